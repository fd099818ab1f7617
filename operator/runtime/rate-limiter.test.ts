import { describe, expect, it } from 'vitest';
import { instantClock } from '../../test/support/instant-clock.ts';
import { RELEASE_STEP_MS, TokenBucket } from './rate-limiter.ts';
import type { Clock } from './timers.ts';

const never = new AbortController().signal;

describe('TokenBucket', () => {
  it('lets a burst through at once, then paces calls at qps', async () => {
    const { clock, slept } = instantClock(1_000);
    const bucket = new TokenBucket(5, 3, clock);
    for (let i = 0; i < 3; i++) await bucket.take(never);
    expect(slept).toEqual([]);
    await bucket.take(never);
    await bucket.take(never);
    expect(slept).toEqual([200, 200]);
  });

  it('refills at qps while idle, up to the burst and no further', async () => {
    const { clock, slept, advance } = instantClock(1_000);
    const bucket = new TokenBucket(10, 4, clock);
    for (let i = 0; i < 4; i++) await bucket.take(never);
    advance(250);
    await bucket.take(never);
    await bucket.take(never);
    expect(slept).toEqual([]);
    await bucket.take(never);
    expect(slept).toEqual([50]);

    advance(60_000);
    for (let i = 0; i < 4; i++) await bucket.take(never);
    await bucket.take(never);
    expect(slept).toEqual([50, 100]);
  });

  it('serves calls that wait together one after another, each reserving its own token', async () => {
    const { clock } = instantClock(1_000);
    const waits: number[] = [];
    const pending: (() => void)[] = [];
    const queued: Clock = {
      ...clock,
      timer: (ms, callback) => {
        waits.push(ms);
        pending.push(callback);
        return () => undefined;
      },
    };
    const bucket = new TokenBucket(2, 1, queued);
    await bucket.take(never);
    void bucket.take(never);
    void bucket.take(never);
    void bucket.take(never);
    expect(waits).toEqual([500, 1000, 1500]);
    for (const resolve of pending) resolve();
  });

  it('lets the calls whose tokens fall due within one release step leave together, none before its token', async () => {
    const { clock } = instantClock(1_000);
    const leaves: number[] = [];
    const queued: Clock = {
      ...clock,
      timer: (ms, callback) => {
        leaves.push(clock.monotonicMs() + ms);
        queueMicrotask(callback);
        return () => undefined;
      },
    };
    // A token every 5 ms: the twelve after the first fall due at 1,005 to 1,060.
    const bucket = new TokenBucket(200, 1, queued);
    await bucket.take(never);
    await Promise.all(Array.from({ length: 12 }, () => bucket.take(never)));
    const step = 1_000 + RELEASE_STEP_MS;
    expect(leaves).toEqual([...Array(10).fill(step), step + RELEASE_STEP_MS, step + RELEASE_STEP_MS]);
  });

  it('refuses a call whose release step ends after the deadline, though its token falls due before', async () => {
    const { clock, slept } = instantClock(1_000);
    const bucket = new TokenBucket(200, 1, clock);
    await bucket.take(never);
    // The token falls due in 5 ms, but the call would leave at the end of its release step.
    expect(await bucket.take(never, clock.monotonicMs() + 10)).toBe(false);
    expect(await bucket.take(never, clock.monotonicMs() + RELEASE_STEP_MS)).toBe(true);
    expect(slept).toEqual([RELEASE_STEP_MS]);
  });

  it('refuses, without taking a token, a wait that would end after the deadline', async () => {
    const { clock, slept } = instantClock(1_000);
    const bucket = new TokenBucket(1, 1, clock);
    expect(await bucket.take(never, clock.monotonicMs() + 10)).toBe(true);
    expect(await bucket.take(never, clock.monotonicMs() + 999)).toBe(false);
    expect(slept).toEqual([]);
    expect(await bucket.take(never, clock.monotonicMs() + 1000)).toBe(true);
    expect(slept).toEqual([1000]);
  });
});
