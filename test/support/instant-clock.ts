import type { Clock } from '../../operator/runtime/timers.ts';

/**
 * A clock whose timers fire at once: each wait moves its time forward and is written down, so timing
 * logic runs to its end without waiting and a test reads what it waited for.
 */
export function instantClock(start = 0) {
  let now = start;
  const slept: number[] = [];
  const clock: Clock = {
    monotonicMs: () => now,
    wallMs: () => now,
    timer(ms, callback) {
      slept.push(ms);
      now += ms;
      queueMicrotask(callback);
      return () => undefined;
    },
  };
  return {
    clock,
    slept,
    advance: (ms: number) => {
      now += ms;
    },
  };
}
