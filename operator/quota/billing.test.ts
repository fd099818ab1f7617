import { describe, expect, it } from 'vitest';
import { DingTalkError, DingTalkErrorCode } from '../dingtalk/index.ts';
import { recordCall } from './billing.ts';
import type { QuotaCall } from './ledger.ts';

const call: QuotaCall = { namespace: 'team-a', service: 'ops', bucket: { kind: 'Robot', group: 'ops' } };

function recorded(error?: unknown) {
  const seen: string[] = [];
  recordCall({ count: () => seen.push('count'), exhausted: () => seen.push('exhausted') }, call, error);
  return seen;
}

const rejected = (errcode: number | string, errorClass: DingTalkError['errorClass']) =>
  new DingTalkError('refused', {
    code: DingTalkErrorCode.rejected,
    errorClass,
    endpoint: 'robot.send',
    errcode,
  });

describe('which calls the quota ledger counts', () => {
  it('counts accepted calls and refusals DingTalk handled', () => {
    expect(recorded()).toEqual(['count']);
    expect(recorded(rejected(310000, 'permanent'))).toEqual(['count']);
    expect(recorded(rejected(-1, 'transient'))).toEqual(['count']);
  });

  it('does not count throttled calls, which DingTalk does not bill', () => {
    expect(recorded(rejected(410100, 'throttled'))).toEqual([]);
    expect(recorded(rejected('Forbidden.AccessDenied.QpsLimitForAppkeyAndApi', 'throttled'))).toEqual([]);
  });

  it('marks the bucket exhausted on a spent-quota answer', () => {
    expect(recorded(rejected(90030, 'throttled'))).toEqual(['exhausted']);
    expect(recorded(rejected('Forbidden.AccessDenied.ApiCountLimitForOrg', 'throttled'))).toEqual([
      'exhausted',
    ]);
  });

  it('counts a call whose answer was lost, and not one that never left', () => {
    const lost = new DingTalkError('timeout', {
      code: DingTalkErrorCode.timeout,
      errorClass: 'transient',
      endpoint: 'robot.send',
    });
    const refused = new DingTalkError('host', {
      code: DingTalkErrorCode.hostNotAllowed,
      errorClass: 'permanent',
      endpoint: 'robot.send',
    });
    expect(recorded(lost)).toEqual(['count']);
    expect(recorded(refused)).toEqual([]);
    expect(recorded(new Error('no credentials'))).toEqual([]);
  });
});
