/**
 * Where a month's count is heading. The rate is the month's calls so far over the time elapsed since
 * it began (at least a day, so the first hours of a month do not extrapolate a handful of calls).
 */

const DAY_MS = 86_400_000;

export interface BucketCount {
  calls: number;
  limit: number;
  /** When DingTalk answered that this bucket's quota is spent, this month. */
  exhaustedAt?: number;
}

/** When the quota runs out at the month's rate so far, if before the month ends; `now` when spent. */
export function projectExhaustion(
  count: BucketCount,
  now: number,
  month: { start: number; end: number },
): number | undefined {
  if (isSpent(count)) return count.exhaustedAt ?? now;
  if (count.calls === 0) return undefined;
  const ratePerMs = count.calls / Math.max(now - month.start, DAY_MS);
  const at = now + (count.limit - count.calls) / ratePerMs;
  return at < month.end ? Math.ceil(at) : undefined;
}

/** The quota is spent: counted up to the limit, or DingTalk said so. */
export function isSpent(count: BucketCount): boolean {
  return count.calls >= count.limit || count.exhaustedAt !== undefined;
}

export type QuotaState = 'Within' | 'AtRisk' | 'Exhausted';

export function quotaState(
  count: BucketCount,
  now: number,
  month: { start: number; end: number },
): QuotaState {
  if (isSpent(count)) return 'Exhausted';
  return projectExhaustion(count, now, month) === undefined ? 'Within' : 'AtRisk';
}
