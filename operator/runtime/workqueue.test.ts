import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WorkQueue } from './workqueue.ts';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('WorkQueue', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('holds a key once however often it is added before processing', async () => {
    const queue = new WorkQueue();
    queue.add('ns/a');
    queue.add('ns/a');
    queue.add('ns/b');
    queue.add('ns/a');
    expect(queue.depth).toBe(2);
    expect(await queue.get()).toBe('ns/a');
    expect(await queue.get()).toBe('ns/b');
  });

  it('never hands one key to two workers, and replays an add made while the key was processed', async () => {
    const queue = new WorkQueue();
    const running = new Map<string, number>();
    let maxConcurrentPerKey = 0;
    const calls: string[] = [];
    const release = deferred();
    queue.run(4, async (key) => {
      running.set(key, (running.get(key) ?? 0) + 1);
      maxConcurrentPerKey = Math.max(maxConcurrentPerKey, running.get(key) ?? 0);
      calls.push(key);
      if (calls.length === 1) await release.promise;
      running.set(key, (running.get(key) ?? 0) - 1);
    });

    queue.add('ns/a');
    await vi.advanceTimersByTimeAsync(0);
    queue.add('ns/a');
    queue.add('ns/a');
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toEqual(['ns/a']);

    release.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toEqual(['ns/a', 'ns/a']);
    expect(maxConcurrentPerKey).toBe(1);
    await queue.shutdown(1000);
  });

  it('processes different keys in parallel up to the number of workers', async () => {
    const queue = new WorkQueue();
    const release = deferred();
    let concurrent = 0;
    let maxConcurrent = 0;
    queue.run(2, async () => {
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      await release.promise;
      concurrent--;
    });
    for (const key of ['a', 'b', 'c']) queue.add(key);
    await vi.advanceTimersByTimeAsync(0);
    expect(maxConcurrent).toBe(2);
    expect(queue.depth).toBe(1);
    release.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(queue.depth).toBe(0);
    await queue.shutdown(1000);
  });

  it('backs off exponentially per key and starts over after forget', async () => {
    const queue = new WorkQueue({ baseDelayMs: 100, maxDelayMs: 1000, jitter: 0 });
    const dueAfter = async (key: string) => {
      let elapsed = 0;
      while (queue.depth === 0) {
        await vi.advanceTimersByTimeAsync(10);
        elapsed += 10;
      }
      expect(await queue.get()).toBe(key);
      queue.done(key);
      return elapsed;
    };

    queue.addRateLimited('k');
    expect(await dueAfter('k')).toBe(100);
    queue.addRateLimited('k');
    expect(await dueAfter('k')).toBe(200);
    queue.addRateLimited('k');
    expect(await dueAfter('k')).toBe(400);
    expect(queue.retries('k')).toBe(3);

    queue.forget('k');
    queue.addRateLimited('k');
    expect(await dueAfter('k')).toBe(100);
  });

  it('caps the backoff at the maximum delay and keeps jitter within its bounds', async () => {
    const low = new WorkQueue({ baseDelayMs: 100, maxDelayMs: 1000, jitter: 0.1, random: () => 0 });
    for (let i = 0; i < 10; i++) low.addRateLimited('k');
    // The first schedule wins (earliest deadline): 100 ms minus 10 %.
    await vi.advanceTimersByTimeAsync(89);
    expect(low.depth).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(low.depth).toBe(1);

    const capped = new WorkQueue({ baseDelayMs: 100, maxDelayMs: 1000, jitter: 0.1, random: () => 1 });
    // Fail 10 times, processing the key between failures so each schedule stands on its own.
    for (let i = 0; i < 10; i++) {
      capped.addRateLimited('k');
      await vi.advanceTimersByTimeAsync(1100);
      const key = await capped.get();
      if (key) capped.done(key);
    }
    capped.addRateLimited('k');
    await vi.advanceTimersByTimeAsync(1099);
    expect(capped.depth).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(capped.depth).toBe(1);
  });

  it('addAfter keeps the earliest deadline for a key', async () => {
    const queue = new WorkQueue();
    queue.addAfter('k', 5000);
    queue.addAfter('k', 1000);
    queue.addAfter('k', 3000);
    expect(queue.waiting).toBe(1);
    await vi.advanceTimersByTimeAsync(999);
    expect(queue.depth).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(queue.depth).toBe(1);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(queue.depth).toBe(1);
    expect(queue.waiting).toBe(0);
  });

  it('addAfter with no delay adds at once', () => {
    const queue = new WorkQueue();
    queue.addAfter('k', 0);
    expect(queue.depth).toBe(1);
  });

  it('on shutdown ignores new adds, waits for running handlers, then aborts their signal after the grace period', async () => {
    const queue = new WorkQueue();
    let sawAbort = false;
    queue.run(1, async (_key, signal) => {
      await new Promise<void>((resolve) => {
        signal.addEventListener('abort', () => {
          sawAbort = true;
          resolve();
        });
      });
    });
    queue.add('slow');
    queue.addAfter('later', 100);
    await vi.advanceTimersByTimeAsync(0);

    const stopped = queue.shutdown(5000);
    queue.add('new');
    expect(queue.depth).toBe(0);
    await vi.advanceTimersByTimeAsync(4999);
    expect(sawAbort).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await stopped;
    expect(sawAbort).toBe(true);
    expect(queue.waiting).toBe(0);
  });

  it('shutdown resolves as soon as running handlers finish within the grace period', async () => {
    const queue = new WorkQueue();
    const handled: string[] = [];
    queue.run(2, async (key) => {
      handled.push(key);
    });
    queue.add('a');
    await vi.advanceTimersByTimeAsync(0);
    let resolved = false;
    void queue.shutdown(60_000).then(() => {
      resolved = true;
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(resolved).toBe(true);
    expect(handled).toEqual(['a']);
    expect(await queue.get()).toBeUndefined();
  });
});
