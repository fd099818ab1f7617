export interface BackoffPolicy {
  /** Delay before the first retry. */
  initialMs: number;
  /** Upper bound of the delay before jitter. */
  maxMs: number;
  /** Relative jitter, 0.2 = ±20 %, so retries of many keys that failed together spread out. */
  jitter?: number;
}

/**
 * The one retry delay formula: `initialMs` doubled per failure in a row (1 = the first retry), capped at
 * `maxMs`, then jittered.
 */
export function backoffDelay(
  failures: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  const { initialMs, maxMs, jitter = 0 } = policy;
  const exponential = Math.min(initialMs * 2 ** Math.max(0, failures - 1), maxMs);
  return Math.max(1, Math.round(exponential * (1 + jitter * (2 * random() - 1))));
}
