import { describe, expect, it } from 'vitest';
import { KeyedRateLimiter } from './rate-limit.ts';

describe('KeyedRateLimiter', () => {
  it('lets a burst through, then tells how long to wait, and earns back with time', () => {
    const clock = { now: 0 };
    const limiter = new KeyedRateLimiter({ perSecond: 2, burst: 10 }, { now: () => clock.now });
    expect(limiter.take('a', 10)).toBe(0);
    expect(limiter.take('a', 4)).toBe(2);
    clock.now = 1_000;
    expect(limiter.take('a', 4)).toBe(1);
    clock.now = 2_000;
    expect(limiter.take('a', 4)).toBe(0);
  });

  it('keeps each key apart', () => {
    const limiter = new KeyedRateLimiter({ perSecond: 1, burst: 1 }, { now: () => 0 });
    expect(limiter.take('flooding-team')).toBe(0);
    expect(limiter.take('flooding-team')).toBe(1);
    expect(limiter.take('quiet-team')).toBe(0);
  });

  it('charges a cost above the burst as the whole burst, so it can pass once the bucket is full', () => {
    const clock = { now: 0 };
    const limiter = new KeyedRateLimiter({ perSecond: 1, burst: 5 }, { now: () => clock.now });
    expect(limiter.take('a', 50)).toBe(0);
    expect(limiter.take('a', 50)).toBe(5);
  });

  it('gives back a refund, never above the burst', () => {
    const limiter = new KeyedRateLimiter({ perSecond: 1, burst: 2 }, { now: () => 0 });
    limiter.take('a', 2);
    limiter.refund('a', 5);
    expect(limiter.take('a', 2)).toBe(0);
    expect(limiter.take('a', 1)).toBe(1);
  });

  it('forgets the least recently used keys beyond maxKeys', () => {
    const limiter = new KeyedRateLimiter({ perSecond: 1, burst: 1 }, { maxKeys: 2, now: () => 0 });
    limiter.take('a');
    limiter.take('b');
    limiter.take('c');
    expect(limiter.take('c')).toBe(1);
    expect(limiter.take('a')).toBe(0);
  });
});
