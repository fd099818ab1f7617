import { type Clock, sleep, systemClock } from './timers.ts';

/**
 * client-go's token bucket (flowcontrol.NewTokenBucketRateLimiter, golang.org/x/time/rate): `burst`
 * calls at once, then `qps` a second. A call that finds the bucket empty reserves the next token and
 * waits for it, so waiting callers are served in order and none can starve.
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
  async take(signal: AbortSignal, deadline = Number.POSITIVE_INFINITY): Promise<boolean> {
    const now = this.#clock.monotonicMs();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#refilledAt) * this.#qps) / 1000);
    this.#refilledAt = now;
    const waitMs = this.#tokens >= 1 ? 0 : ((1 - this.#tokens) * 1000) / this.#qps;
    if (now + waitMs > deadline) return false;
    this.#tokens -= 1;
    if (waitMs > 0) await sleep(waitMs, signal, this.#clock);
    return true;
  }
}
