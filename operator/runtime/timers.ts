/**
 * Time as timing logic needs it, injectable so that logic can be tested on a fake clock. Durations and
 * deadlines belong on `monotonicMs`: the wall clock can step either way (NTP, `date -s`, a resumed VM).
 */
export interface Clock {
  /** Milliseconds from an arbitrary origin, never stepped; only differences mean anything. */
  monotonicMs(): number;
  /** Milliseconds since the epoch, for times written down for others to read. */
  wallMs(): number;
  /** Calls `callback` once `ms` of monotonic time have passed; the returned function cancels it. */
  timer(ms: number, callback: () => void): () => void;
}

/** Node's timers run on the monotonic clock (libuv), so a wall-clock step moves none of them. */
export const systemClock: Clock = {
  monotonicMs: () => performance.now(),
  wallMs: () => Date.now(),
  timer(ms, callback) {
    const timer = setTimeout(callback, ms);
    return () => clearTimeout(timer);
  },
};

/** Resolves after `ms`, or at once when `signal` aborts (never rejects: callers check signal.aborted). */
export function sleep(
  ms: number,
  signal: AbortSignal | undefined,
  clock: Clock = systemClock,
): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const cancel = clock.timer(ms, done);
    function done() {
      cancel();
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
