/**
 * Maps `items` through `fn` with at most `limit` calls in flight, keeping the order. After the first
 * failure no further item is started, and the promise rejects with that failure.
 */
export async function mapConcurrently<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (next < items.length && !failed) {
      const index = next++;
      try {
        results[index] = await fn(items[index] as T);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * Calls made one by one as they come (a read per referenced object, an Event per transition), at most
 * `limit` in flight: the others wait their turn, first come first served. `queued` tells how many wait,
 * for callers that would rather drop than queue without end.
 */
export class ConcurrencyLimit {
  readonly #limit: number;
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(limit: number) {
    this.#limit = limit;
  }

  get queued(): number {
    return this.#waiting.length;
  }

  async run<R>(fn: () => Promise<R>): Promise<R> {
    if (this.#running < this.#limit) this.#running++;
    // A finishing call hands its slot to the first waiter, so `#running` stays as it is.
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await fn();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#running--;
    }
  }
}
