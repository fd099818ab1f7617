import { describe, expect, it } from 'vitest';
import { RateBudget } from '../../delivery/rate-budget.ts';
import { DingTalkError, DingTalkErrorCode } from '../../dingtalk/index.ts';
import { sendTests, testPostponedUntil, testRequest } from './test-send.ts';
import type { GroupCheck } from './validate-groups.ts';
import type { MemberCheck } from './validate-member.ts';

const target = {
  name: 'ops',
  robots: [{ name: 'ops', webhook: 'tok', keywords: [] }],
  pool: false,
  unresolved: [],
  rateLimitPerMinute: 20,
};
const ok: GroupCheck = { name: 'ops', ready: true, reason: 'Validated', message: 'robot', target };
const broken: GroupCheck = {
  name: 'dev',
  ready: false,
  reason: 'SecretNotFound',
  message: 'Secret "x" not found',
};
const member = {
  ready: true,
  app: { clientId: 'ding1', clientSecret: 's', robotCode: 'ding1', members: [] },
  userIds: ['u1', 'u2'],
} as unknown as MemberCheck;
const now = () => new Date(Date.UTC(2030, 0, 1));

describe('testRequest', () => {
  it('keeps short values and digests long ones', () => {
    expect(testRequest({ 'dingtalk.alarming.io/test': '1' })).toBe('1');
    expect(testRequest({ 'dingtalk.alarming.io/test': 'x'.repeat(100) })).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(testRequest({})).toBeUndefined();
  });
});

describe('sendTests', () => {
  it('sends to every usable target and records the others as not sent', async () => {
    const sent: string[] = [];
    const results = await sendTests({
      service: 'ns/svc',
      request: '1',
      groups: [ok, broken],
      member,
      now,
      dingtalk: {
        sendGroupMessage: async (t) => {
          sent.push(`group ${t.webhook}`);
          return { msgUuid: 'm', trimmed: false };
        },
        sendToMembers: async (_app, userIds) => {
          sent.push(`members ${userIds.join(',')}`);
          return {
            processQueryKeys: ['k'],
            sentUserIds: [...userIds],
            invalidUserIds: [],
            flowControlledUserIds: [],
            failed: [],
          };
        },
      },
    });
    expect(sent).toEqual(['group tok', 'members u1,u2']);
    expect(results.groups.get('ops')).toEqual({ time: '2030-01-01T00:00:00Z', result: 'Succeeded' });
    expect(results.groups.get('dev')).toMatchObject({
      result: 'Failed',
      message: 'not sent: Secret "x" not found',
    });
    expect(results.member).toMatchObject({ result: 'Succeeded', message: 'sent to 2 of 2 member(s)' });
    expect(results.overall).toMatchObject({
      result: 'Failed',
      message: '2 of 3 target(s) received the test message',
    });
  });

  it("records DingTalk's errcode", async () => {
    const results = await sendTests({
      service: 'ns/svc',
      request: '1',
      groups: [ok],
      member: undefined,
      now,
      dingtalk: {
        sendGroupMessage: async () => {
          throw new DingTalkError('robot.send: rejected', {
            code: DingTalkErrorCode.rejected,
            errorClass: 'permanent',
            endpoint: 'robot.send',
            errcode: 310000,
            errmsg: 'keywords not in content',
          });
        },
        sendToMembers: async () => {
          throw new Error('not called');
        },
      },
    });
    expect(results.groups.get('ops')).toEqual({
      time: '2030-01-01T00:00:00Z',
      result: 'Failed',
      errcode: '310000',
      message: 'keywords not in content',
    });
    expect(results.overall).toMatchObject({ result: 'Failed', errcode: '310000' });
  });
});

describe('test messages and the robot budget', () => {
  const quiet = {
    sendGroupMessage: async () => ({ msgUuid: 'm', trimmed: false }),
    sendToMembers: async () => ({
      processQueryKeys: [],
      sentUserIds: [],
      invalidUserIds: [],
      flowControlledUserIds: [],
      failed: [],
    }),
  };

  it('takes a slot of the robot budget per group, and names the request so two tests never read alike', async () => {
    const budget = new RateBudget({ limit: 20, windowMs: 60_000 });
    const texts: string[] = [];
    const dingtalk = {
      ...quiet,
      sendGroupMessage: async (_t: unknown, message: { type: string; content?: string }) => {
        texts.push(message.type === 'text' ? (message.content ?? '') : '');
        return { msgUuid: 'm', trimmed: false };
      },
    };
    for (const request of ['1', '2']) {
      await sendTests({
        service: 'ns/svc',
        request,
        groups: [ok],
        member: undefined,
        now,
        dingtalk,
        budgetFor: () => budget,
      });
    }
    expect(budget.available(Date.UTC(2030, 0, 1))).toBe(18);
    expect(texts[0]).toContain('request 1');
    expect(texts[1]).toContain('request 2');
    expect(texts[0]).not.toEqual(texts[1]);
  });

  it('is postponed while a robot has no send left, until its next slot', () => {
    const budget = new RateBudget({ limit: 1, windowMs: 60_000, marginMs: 0 });
    expect(testPostponedUntil({ groups: [ok], budgetFor: () => budget }, 0)).toBeUndefined();
    budget.begin()(1_000);
    expect(testPostponedUntil({ groups: [ok], budgetFor: () => budget }, 2_000)).toBe(61_000);
  });

  it('tests each robot of a pool, reporting each and the group as the worst of them', async () => {
    const pool: GroupCheck = {
      ...ok,
      target: {
        ...target,
        pool: true,
        robots: [
          { name: 'a', webhook: 'tok-a', keywords: [] },
          { name: 'b', webhook: 'tok-b', keywords: [] },
        ],
      },
    };
    const sent: string[] = [];
    const results = await sendTests({
      service: 'ns/svc',
      request: '1',
      groups: [pool],
      member: undefined,
      now: () => new Date('2030-01-01T00:00:00Z'),
      dingtalk: {
        sendGroupMessage: async (t) => {
          sent.push(t.webhook);
          if (t.webhook === 'tok-b') {
            throw new DingTalkError('disabled', {
              code: DingTalkErrorCode.rejected,
              errorClass: 'permanent',
              errcode: 400102,
              errmsg: 'robot disabled',
              endpoint: 'robot.send',
            });
          }
          return { msgUuid: 'm', trimmed: false };
        },
        sendToMembers: async () => {
          throw new Error('no members here');
        },
      },
    });
    expect(sent).toEqual(['tok-a', 'tok-b']);
    expect(results.robots.get('ops')?.get('a')).toMatchObject({ result: 'Succeeded' });
    expect(results.robots.get('ops')?.get('b')).toMatchObject({ result: 'Failed', errcode: '400102' });
    expect(results.groups.get('ops')).toMatchObject({
      result: 'Failed',
      errcode: '400102',
      message: '1 of 2 robot(s) received the test message; robot disabled',
    });
  });
});
