import { describe, expect, it } from 'vitest';
import { backoffDelay } from './backoff.ts';

describe('backoffDelay', () => {
  const policy = { initialMs: 1_000, maxMs: 30_000 };

  it('starts at the initial delay and doubles per failure in a row', () => {
    expect([1, 2, 3, 4].map((failures) => backoffDelay(failures, policy))).toEqual([
      1_000, 2_000, 4_000, 8_000,
    ]);
  });

  it('never exceeds the maximum before jitter', () => {
    expect(backoffDelay(40, policy)).toBe(30_000);
  });

  it('spreads the delay by the jitter either way', () => {
    const jittered = { ...policy, jitter: 0.2 };
    expect(backoffDelay(1, jittered, () => 0)).toBe(800);
    expect(backoffDelay(1, jittered, () => 1)).toBe(1_200);
  });
});
