import { describe, expect, it } from 'vitest';
import { type Clock, TokenBucket } from './rate-limiter.ts';

/** A clock that never waits: a sleep moves its time forward and is written down. */
function fakeClock() {
  let now = 1_000;
  const slept: number[] = [];
  const clock: Clock = {
    now: () => now,
    sleep: async (ms) => {
      slept.push(ms);
      now += ms;
    },
  };
  return { clock, slept, advance: (ms: number) => (now += ms) };
}

const never = new AbortController().signal;

describe('TokenBucket', () => {
  it('lets a burst through at once, then paces calls at qps', async () => {
    const { clock, slept } = fakeClock();
    const bucket = new TokenBucket(5, 3, clock);
    for (let i = 0; i < 3; i++) await bucket.take(never);
    expect(slept).toEqual([]);
    await bucket.take(never);
    await bucket.take(never);
    expect(slept).toEqual([200, 200]);
  });

  it('refills at qps while idle, up to the burst and no further', async () => {
    const { clock, slept, advance } = fakeClock();
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
    const { clock } = fakeClock();
    const waits: number[] = [];
    const pending: (() => void)[] = [];
    const queued: Clock = {
      now: clock.now,
      sleep: (ms) => {
        waits.push(ms);
        return new Promise((resolve) => pending.push(resolve));
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
    const { clock, slept } = fakeClock();
    const bucket = new TokenBucket(1, 1, clock);
    expect(await bucket.take(never, clock.now() + 10)).toBe(true);
    expect(await bucket.take(never, clock.now() + 999)).toBe(false);
    expect(slept).toEqual([]);
    expect(await bucket.take(never, clock.now() + 1000)).toBe(true);
    expect(slept).toEqual([1000]);
  });
});
