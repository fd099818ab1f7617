import { describe, expect, it } from 'vitest';
import { applyGroupChecks, applyMemberCheck, summarise } from './service-status.ts';
import type { GroupCheck } from './validate-groups.ts';
import type { MemberCheck } from './validate-member.ts';

const readyGroup: GroupCheck = { name: 'ops', ready: true, reason: 'Validated', message: 'robot at h' };
const missing: GroupCheck = {
  name: 'dev',
  ready: false,
  reason: 'SecretNotFound',
  message: 'Secret "x" not found',
};
const memberCheck = (over: Partial<MemberCheck> = {}): MemberCheck => ({
  ready: true,
  reason: 'Validated',
  message: 'ok',
  credentials: { status: 'True', reason: 'Validated', message: 'token issued' },
  members: { status: 'True', reason: 'MembersResolved', message: '1 member(s) resolved' },
  retry: false,
  tokenExpiresAt: Date.UTC(2030, 0, 1, 2),
  resolvedMembers: 1,
  unknownMembers: [],
  ...over,
});

describe('applyGroupChecks', () => {
  it('keeps the last test of each group and drops groups no longer in the spec', () => {
    const lastTest = { time: '2030-01-01T00:00:00Z', result: 'Succeeded' as const };
    const groups = applyGroupChecks(
      [
        { name: 'ops', ready: false, reason: 'SecretNotFound', lastTest },
        { name: 'gone', ready: true },
      ],
      [readyGroup],
    );
    expect(groups).toEqual([
      { name: 'ops', ready: true, reason: 'Validated', message: 'robot at h', lastTest },
    ]);
  });
});

describe('applyMemberCheck', () => {
  it('writes token expiry and member counts, keeping the last test', () => {
    const lastTest = { time: '2030-01-01T00:00:00Z', result: 'Failed' as const };
    const status = applyMemberCheck(
      { lastTest },
      memberCheck({ unknownMembers: [{ userId: 'ghost', name: 'Ghost' }, { mobile: '139' }] }),
    );
    expect(status).toEqual({
      ready: true,
      reason: 'Validated',
      message: 'ok',
      tokenExpiresAt: '2030-01-01T02:00:00Z',
      resolvedMembers: 1,
      unknownMembers: 2,
      unknownMemberNames: ['Ghost', '139'],
      lastTest,
    });
  });

  it('caps the names of unknown members at 20', () => {
    const unknown = Array.from({ length: 25 }, (_, i) => ({ userId: `u${i}` }));
    const status = applyMemberCheck(undefined, memberCheck({ unknownMembers: unknown }));
    expect(status.unknownMembers).toBe(25);
    expect(status.unknownMemberNames).toHaveLength(20);
  });
});

describe('summarise', () => {
  it('is ready only when every target is', () => {
    expect(summarise([readyGroup], memberCheck())).toMatchObject({ ready: true, reason: 'Validated' });
    const summary = summarise([readyGroup, missing], memberCheck());
    expect(summary).toMatchObject({ ready: false, reason: 'SecretNotFound', retry: false });
    expect(summary.message).toContain('group dev: Secret "x" not found');
    expect(summary.credentials).toMatchObject({ status: 'False', reason: 'SecretNotFound' });
  });

  it('takes refused credentials from the member side', () => {
    const credentials = {
      status: 'False' as const,
      reason: 'InvalidCredentials',
      message: 'code invalidClientIdOrSecret',
    };
    const summary = summarise(
      [readyGroup],
      memberCheck({ ready: false, reason: 'InvalidCredentials', credentials }),
    );
    expect(summary).toMatchObject({ ready: false, reason: 'InvalidCredentials', credentials });
  });

  it('asks for a retry when DingTalk was unreachable', () => {
    expect(summarise([], memberCheck({ ready: false, reason: 'Unreachable', retry: true })).retry).toBe(true);
  });
});

describe('summarise with held alarms', () => {
  it('is not Ready, naming the group and the errcode, while DingTalk refuses what dispatch sends', () => {
    const held = [
      {
        namespace: 'ns',
        service: 'svc',
        kind: 'Group' as const,
        name: 'ops',
        errcode: '310000',
        message: 'sign not match',
        since: Date.UTC(2030, 0, 1),
        alarms: 3,
      },
    ];
    const summary = summarise([readyGroup], undefined, held);
    expect(summary.ready).toBe(false);
    expect(summary.reason).toBe('Held');
    expect(summary.message).toContain('group ops');
    expect(summary.message).toContain('errcode 310000');
    expect(summary.credentials).toMatchObject({ status: 'False', reason: 'Held' });
    expect(summarise([readyGroup], undefined, []).ready).toBe(true);
  });

  it('holds alarms for a spent month without doubting the credentials', () => {
    const held = [
      {
        namespace: 'ns',
        service: 'svc',
        kind: 'Group' as const,
        name: 'ops',
        errcode: '90030',
        message: 'webhook over limit',
        since: Date.UTC(2030, 0, 1),
        alarms: 2,
        quota: true as const,
      },
    ];
    const summary = summarise([readyGroup], undefined, held);
    expect(summary).toMatchObject({ ready: false, reason: 'QuotaExhausted' });
    expect(summary.message).toContain('until the month turns');
    expect(summary.credentials.status).toBe('True');
  });
});
