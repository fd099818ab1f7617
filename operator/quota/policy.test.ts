import { describe, expect, it } from 'vitest';
import { QuotaPolicy } from '../api/index.ts';
import { groupIntervalFactor, holdingStep, stepsInForce } from './policy.ts';

const policy = QuotaPolicy.parse({
  widenDigestsAt: 50,
  digestIntervalFactor: 4,
  holdInfoAt: 70,
  skipResolvedAt: 85,
  criticalReserve: 100,
});
const at = (calls: number) => stepsInForce(policy, { calls, limit: 3000 });
const held = (
  calls: number,
  severity: 'critical' | 'warning' | 'info',
  state: 'firing' | 'resolved' = 'firing',
) => holdingStep(at(calls), { severity, state });

describe('quotaPolicy', () => {
  it('brings its steps into force in order as the month is spent', () => {
    expect([...at(1000)]).toEqual([]);
    expect([...at(1500)]).toEqual(['WidenDigests']);
    expect([...at(2100)]).toEqual(['WidenDigests', 'HoldInfo']);
    expect([...at(2550)]).toEqual(['WidenDigests', 'HoldInfo', 'SkipResolved']);
    expect([...at(2900)]).toEqual(['WidenDigests', 'HoldInfo', 'SkipResolved', 'CriticalOnly']);
  });

  it('widens digests by its factor', () => {
    expect(groupIntervalFactor(policy, at(1499))).toBe(1);
    expect(groupIntervalFactor(policy, at(1500))).toBe(4);
  });

  it('holds back info alarms, then resolved notifications, then all but critical alarms', () => {
    expect(held(2099, 'info')).toBeUndefined();
    expect(held(2100, 'info')).toBe('HoldInfo');
    expect(held(2100, 'warning', 'resolved')).toBeUndefined();
    expect(held(2550, 'warning', 'resolved')).toBe('SkipResolved');
    expect(held(2550, 'warning')).toBeUndefined();
    expect(held(2900, 'warning')).toBe('CriticalOnly');
  });

  it('always sends critical alarms, firing or resolved, from the reserve too', () => {
    expect(held(2999, 'critical')).toBeUndefined();
    expect(held(3000, 'critical', 'resolved')).toBeUndefined();
  });

  it('holds nothing back without a policy', () => {
    expect(
      holdingStep(stepsInForce(undefined, { calls: 3000, limit: 3000 }), {
        severity: 'info',
        state: 'resolved',
      }),
    ).toBeUndefined();
  });

  it('rejects steps out of order', () => {
    expect(QuotaPolicy.safeParse({ widenDigestsAt: 80, holdInfoAt: 70 }).success).toBe(false);
  });
});
