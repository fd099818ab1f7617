import { type Clock, sleep, systemClock } from './timers.ts';

/**
 * Paced calls leave on multiples of this many milliseconds of the monotonic clock, those whose tokens
 * fall due within one such step together. Released one by one (every 5 ms at 200 a second), each call and
 * its answer woke the process on its own, and a paced call cost the process about twice the CPU of an
 * unpaced one; released together they share the wake-ups (bench/results/kube-client.md).
 */
export const RELEASE_STEP_MS = 50;

/**
 * client-go's token bucket (flowcontrol.NewTokenBucketRateLimiter, golang.org/x/time/rate): `burst`
 * calls at once, then `qps` a second. A call that finds the bucket empty reserves the next token and
 * waits for it, so waiting callers are served in order and none can starve. A call leaves at the end of
 * the release step its token falls due in, never before it: over any span the calls made stay within
 * the bucket's, plus at most one step's worth of tokens.
 */
export class TokenBucket {
  readonly #qps: number;
  readonly #burst: number;
  readonly #clock: Clock;
  #tokens: number;
  #refilledAt: number;

  constructor(qps: number, burst: number, clock: Clock = systemClock) {
    if (!(qps > 0) || !(burst >= 1)) throw new RangeError('qps must be above 0 and burst at least 1');
    this.#qps = qps;
    this.#burst = burst;
    this.#clock = clock;
    this.#tokens = burst;
    // Monotonic, so a wall-clock step neither frees nor withholds tokens.
    this.#refilledAt = clock.monotonicMs();
  }

  /**
   * Takes a token, waiting until it is due. False, without taking one, when it would be due only after
   * `deadline` (a clock reading): waiting then would only hold the caller to fail it later, as
   * x/time/rate's Wait refuses a wait beyond its context's deadline.
   */
  async take(signal: AbortSignal | undefined, deadline = Number.POSITIVE_INFINITY): Promise<boolean> {
    const now = this.#clock.monotonicMs();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#refilledAt) * this.#qps) / 1000);
    this.#refilledAt = now;
    const dueMs = this.#tokens >= 1 ? 0 : ((1 - this.#tokens) * 1000) / this.#qps;
    const waitMs = dueMs === 0 ? 0 : Math.ceil((now + dueMs) / RELEASE_STEP_MS) * RELEASE_STEP_MS - now;
    if (now + waitMs > deadline) return false;
    this.#tokens -= 1;
    if (waitMs > 0) await sleep(waitMs, signal, this.#clock);
    return true;
  }
}
