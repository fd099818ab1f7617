import { describe, expect, it } from 'vitest';
import { instantClock } from '../../test/support/instant-clock.ts';
import { TokenBucket } from './rate-limiter.ts';
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
