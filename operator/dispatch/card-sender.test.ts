import { describe, expect, it } from 'vitest';
import type { CardApi, CardDelivery } from '../dingtalk/cards.ts';
import { DingTalkError, DingTalkErrorCode } from '../dingtalk/index.ts';
import type { Alarm } from './alarm.ts';
import { cardTrackId } from './card-identity.ts';
import { namingTheGroup, sendCardStep, sendGroupCard, sendsCard } from './card-sender.ts';
import { progressFrom } from './member-progress.ts';
import type { Notification } from './notification.ts';
import type { OutboundMessage } from './outcome.ts';

const app = { clientId: 'app', clientSecret: 's', robotCode: 'app', members: [], cardTemplateId: 'tpl' };
const alarm = (state: 'firing' | 'resolved') =>
  ({ spec: { state, severity: 'critical' } }) as unknown as Alarm;

function message(
  overrides: Partial<Notification> = {},
  state: 'firing' | 'resolved' = 'firing',
): OutboundMessage {
  const notification = {
    rule: { namespace: 'team-a', name: 'r', interactive: { actions: ['Acknowledge'] } },
    target: { service: 'oncall', kind: 'Member', name: 'members', names: ['members'] },
    alarms: [alarm(state)],
    repeat: false,
    ...overrides,
  } as Notification;
  return {
    msgUuid: 'm-1',
    notifications: [notification],
    content: { type: 'markdown', title: 'Disk full', text: 'node-3' },
    attempts: 0,
  };
}

function cards(answer: (d: CardDelivery) => Promise<{ failed: string[] }>) {
  const calls: CardDelivery[] = [];
  const api = {
    async createAndDeliver(_app: unknown, delivery: CardDelivery) {
      calls.push(delivery);
      const { failed } = await answer(delivery);
      return {
        outTrackId: delivery.outTrackId,
        delivered: [],
        failed: failed.map((spaceId) => ({ spaceType: 'IM_ROBOT', spaceId })),
      };
    },
  } as unknown as CardApi;
  return { api, calls };
}

const step = { kind: 'chunk' as const, index: 0, userIds: ['u1', 'u2'] };
const outTrackId = cardTrackId('team-a', {
  service: 'oncall',
  targetKind: 'Member',
  targetName: 'members',
  msgUuid: 'm-1',
});

describe('sending a card', () => {
  it("is for an interactive rule's firing alarms, first sent, by an app with a template", () => {
    expect(sendsCard(message(), app)).toBe(true);
    expect(sendsCard(message({ repeat: true }), app)).toBe(false);
    expect(sendsCard(message({}, 'resolved'), app)).toBe(false);
    expect(sendsCard(message({ rule: { namespace: 'team-a', name: 'r' } }), app)).toBe(false);
    expect(sendsCard(message(), { ...app, cardTemplateId: undefined })).toBe(false);
  });

  it('sends each step under the outTrackId of the ledger entry, and records who DingTalk could not reach', async () => {
    const { api, calls } = cards(async () => ({ failed: ['u2'] }));
    const progress = progressFrom(undefined);
    const counted: unknown[] = [];
    const sent = message();
    await sendCardStep(api, app, sent, progress, step, (error) => counted.push(error));
    expect(calls[0]).toMatchObject({ outTrackId, cardTemplateId: 'tpl', userIds: ['u1', 'u2'] });
    expect(progress).toMatchObject({ delivered: 1, failed: 1, chunksDone: 1 });
    expect(sent.messageIds).toEqual([outTrackId]);
    expect(counted).toEqual([undefined]);
  });

  it('leaves a timed-out call to the queue to retry under the same outTrackId, and records a refusal', async () => {
    const timeout = new DingTalkError('t', {
      code: DingTalkErrorCode.timeout,
      errorClass: 'transient',
      endpoint: 'c',
    });
    const progress = progressFrom(undefined);
    await expect(
      sendCardStep(cards(() => Promise.reject(timeout)).api, app, message(), progress, step, () => undefined),
    ).rejects.toBe(timeout);
    expect(progress.chunksDone).toBe(0);
    const refusal = new DingTalkError('r', {
      code: DingTalkErrorCode.rejected,
      errorClass: 'permanent',
      endpoint: 'c',
      errcode: 'param.invalid',
    });
    await sendCardStep(
      cards(() => Promise.reject(refusal)).api,
      app,
      message(),
      progress,
      step,
      () => undefined,
    );
    expect(progress).toMatchObject({ failed: 2, chunksDone: 1 });
  });
});

describe("sending a card to a group through the app's robot", () => {
  const group = {
    kind: 'AppGroup' as const,
    service: 'oncall',
    name: 'ops',
    openConversationId: 'cidOps==',
    app,
    actors: [],
  };

  it('delivers one card to the group under an outTrackId of the group ledger entry, counted once', async () => {
    const { api, calls } = cards(async () => ({ failed: [] }));
    const recorded: unknown[] = [];
    const id = await sendGroupCard(api, app, group, message(), (error) => recorded.push(error));
    expect(id).toBe(
      cardTrackId('team-a', { service: 'oncall', targetKind: 'AppGroup', targetName: 'ops', msgUuid: 'm-1' }),
    );
    expect(id).not.toBe(outTrackId);
    expect(calls).toMatchObject([{ outTrackId: id, openConversationId: 'cidOps==', cardTemplateId: 'tpl' }]);
    expect(calls[0]?.userIds).toBeUndefined();
    expect(recorded).toEqual([undefined]);
  });

  it('refuses a call DingTalk answered without delivering to the group', async () => {
    const { api } = cards(async () => ({ failed: ['cidOps=='] }));
    await expect(sendGroupCard(api, app, group, message(), () => {})).rejects.toMatchObject({
      errorClass: 'permanent',
      endpoint: 'card.createAndDeliver',
    });
  });

  it("names the group's openConversationId when DingTalk says the robot cannot post there", () => {
    const refusal = new DingTalkError('refused', {
      code: DingTalkErrorCode.rejected,
      errorClass: 'permanent',
      endpoint: 'card.createAndDeliver',
      errcode: 'invalid.openConversationId',
      errmsg: 'robot not in group',
    });
    expect(namingTheGroup(refusal, group)).toMatchObject({
      errcode: 'invalid.openConversationId',
      errorClass: 'permanent',
      message: expect.stringContaining('spec.member.groups[ops].openConversationId'),
    });
    const other = new Error('other');
    expect(namingTheGroup(other, group)).toBe(other);
  });
});
