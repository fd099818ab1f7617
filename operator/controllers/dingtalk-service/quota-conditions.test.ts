import { describe, expect, it } from 'vitest';
import type { BucketReport } from '../../quota/ledger.ts';
import { get } from '../../runtime/conditions.ts';
import { applyQuotaConditions, quotaTransitions } from './quota-conditions.ts';

const report = (state: BucketReport['state'], extra: Partial<BucketReport> = {}): BucketReport => ({
  bucket: { kind: 'Robot', group: 'ops' },
  month: '2026-12',
  calls: 2000,
  limit: 3000,
  state,
  ...extra,
});

function service() {
  return { metadata: { generation: 1 }, status: {} as Record<string, unknown> };
}

describe('quota conditions', () => {
  it('says nothing while every bucket is within its quota', () => {
    const obj = service();
    applyQuotaConditions(obj, [report('Within')]);
    expect(get(obj, 'QuotaAtRisk')).toBeUndefined();
    expect(get(obj, 'QuotaExhausted')).toBeUndefined();
  });

  it('names the bucket and when it runs out while at risk', () => {
    const obj = service();
    applyQuotaConditions(obj, [
      report('AtRisk', { projectedExhaustion: Date.parse('2026-12-20T00:00:00Z') }),
    ]);
    expect(get(obj, 'QuotaAtRisk')).toMatchObject({ status: 'True', reason: 'QuotaAtRisk' });
    expect(get(obj, 'QuotaAtRisk')?.message).toBe(
      'group ops: 2000 of 3000 calls in 2026-12; at this rate the quota runs out at 2026-12-20T00:00:00.000Z',
    );
  });

  it('keeps QuotaAtRisk with QuotaExhausted, and reports both transitions', () => {
    const before = service();
    applyQuotaConditions(before, [report('AtRisk')]);
    const after = structuredClone(before);
    applyQuotaConditions(after, [report('Exhausted', { calls: 10, exhaustedAt: 1 })]);
    expect(get(after, 'QuotaAtRisk')?.status).toBe('True');
    expect(get(after, 'QuotaExhausted')?.message).toContain(
      "DingTalk answered that the month's quota is spent",
    );
    expect(quotaTransitions(before, after)).toEqual([
      { type: 'QuotaExhausted', appeared: true, message: expect.any(String) },
    ]);
    const next = structuredClone(after);
    applyQuotaConditions(next, [report('Within', { calls: 0 })]);
    expect(quotaTransitions(after, next).map((t) => [t.type, t.appeared])).toEqual([
      ['QuotaAtRisk', false],
      ['QuotaExhausted', false],
    ]);
  });
});
