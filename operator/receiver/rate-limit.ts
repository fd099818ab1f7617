/**
 * Token buckets keyed by a string (a client address, a namespace): each key may spend `burst` at once and
 * earns `perSecond` back. At most `maxKeys` buckets are kept, the least recently used dropped first; a
 * dropped bucket comes back full, so `maxKeys` must exceed the keys active within a refill time.
 */
export interface RateLimit {
  perSecond: number;
  burst: number;
}

export class KeyedRateLimiter {
  readonly #limit: RateLimit;
  readonly #maxKeys: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    limit: RateLimit,
    { maxKeys = 10_000, now = Date.now }: { maxKeys?: number; now?: () => number } = {},
  ) {
    this.#limit = limit;
    this.#maxKeys = maxKeys;
    this.#now = now;
  }

  /**
   * Spends `cost` from `key`'s bucket and returns 0, or spends nothing and returns the seconds (at least
   * 1) after which it could. A cost above the burst is charged as the whole burst, so it can still pass.
   */
  take(key: string, cost = 1): number {
    const bucket = this.#refilled(key);
    const need = Math.min(cost, this.#limit.burst);
    if (bucket.tokens >= need) {
      bucket.tokens -= need;
      return 0;
    }
    return Math.max(1, Math.ceil((need - bucket.tokens) / this.#limit.perSecond));
  }

  /** Gives back what take() spent, when what it paid for turned out not to count. */
  refund(key: string, cost = 1): void {
    const bucket = this.#refilled(key);
    bucket.tokens = Math.min(this.#limit.burst, bucket.tokens + Math.min(cost, this.#limit.burst));
  }

  #refilled(key: string): { tokens: number; at: number } {
    const now = this.#now();
    const { burst, perSecond } = this.#limit;
    let bucket = this.#buckets.get(key);
    if (bucket) {
      this.#buckets.delete(key);
      bucket.tokens = Math.min(burst, bucket.tokens + (Math.max(0, now - bucket.at) / 1000) * perSecond);
      bucket.at = now;
    } else {
      bucket = { tokens: burst, at: now };
    }
    this.#buckets.set(key, bucket);
    if (this.#buckets.size > this.#maxKeys) {
      const oldest = this.#buckets.keys().next().value;
      if (oldest !== undefined) this.#buckets.delete(oldest);
    }
    return bucket;
  }
}
