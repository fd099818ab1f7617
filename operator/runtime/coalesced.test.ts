import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Coalesced } from './coalesced.ts';

describe('Coalesced', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('runs once for a burst of requests, after the delay from the first', () => {
    const run = vi.fn();
    const work = new Coalesced(run, 200);
    for (let i = 0; i < 1_000; i++) work.request();
    vi.advanceTimersByTime(199);
    expect(run).not.toHaveBeenCalled();
    work.request();
    vi.advanceTimersByTime(1);
    expect(run).toHaveBeenCalledTimes(1);
  });

  it('runs again for a request that comes after a run', () => {
    const run = vi.fn();
    const work = new Coalesced(run, 200);
    work.request();
    vi.advanceTimersByTime(200);
    work.request();
    vi.advanceTimersByTime(200);
    expect(run).toHaveBeenCalledTimes(2);
  });

  it('runs nothing once stopped, not even what was requested before', () => {
    const run = vi.fn();
    const work = new Coalesced(run, 200);
    work.request();
    work.stop();
    work.request();
    vi.advanceTimersByTime(1_000);
    expect(run).not.toHaveBeenCalled();
  });
});
