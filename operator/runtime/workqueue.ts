import { backoffDelay } from './backoff.ts';

/**
 * A work queue of keys with client-go semantics:
 * - a key waiting in the queue is held once however often it is added (the dirty set);
 * - a key is handed to one worker at a time; adds while it is processed are replayed after `done`;
 * - per-key exponential backoff with jitter for failures (`addRateLimited`, reset by `forget`);
 * - delayed adds (`addAfter`) keep one timer per key with the earliest deadline.
 */

export interface WorkQueueOptions {
  /** First retry delay after a failure; doubles per consecutive failure. */
  baseDelayMs?: number;
  /** Upper bound of the retry delay. */
  maxDelayMs?: number;
  /** Relative jitter applied to retry delays, 0.1 = ±10 %. */
  jitter?: number;
  random?: () => number;
}

export type WorkHandler = (key: string, signal: AbortSignal) => Promise<void>;

interface Delayed {
  deadline: number;
  timer: NodeJS.Timeout;
}

export class WorkQueue {
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #jitter: number;
  readonly #random: () => number;

  #queue: string[] = [];
  readonly #dirty = new Set<string>();
  readonly #processing = new Set<string>();
  readonly #failures = new Map<string, number>();
  readonly #delayed = new Map<string, Delayed>();
  readonly #waiters: Array<(key: string | undefined) => void> = [];
  readonly #inFlight = new Set<Promise<void>>();
  readonly #abort = new AbortController();
  #shuttingDown = false;

  constructor(options: WorkQueueOptions = {}) {
    this.#baseDelayMs = options.baseDelayMs ?? 750;
    this.#maxDelayMs = options.maxDelayMs ?? 15 * 60_000;
    this.#jitter = options.jitter ?? 0.1;
    this.#random = options.random ?? Math.random;
  }

  /** Keys ready to be processed (the queue depth metric). */
  get depth(): number {
    return this.#queue.length;
  }

  /** Keys a worker holds right now. */
  get processing(): number {
    return this.#processing.size;
  }

  /** Keys scheduled by addAfter/addRateLimited and not yet due. */
  get waiting(): number {
    return this.#delayed.size;
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  add(key: string): void {
    if (this.#shuttingDown || this.#dirty.has(key)) return;
    this.#dirty.add(key);
    if (this.#processing.has(key)) return;
    const waiter = this.#waiters.shift();
    if (waiter) {
      this.#take(key);
      waiter(key);
    } else {
      this.#queue.push(key);
    }
  }

  /** Adds the key after `delayMs`; a key already scheduled keeps whichever deadline comes first. */
  addAfter(key: string, delayMs: number): void {
    if (this.#shuttingDown) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const deadline = Date.now() + delayMs;
    const existing = this.#delayed.get(key);
    if (existing && existing.deadline <= deadline) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.#delayed.delete(key);
      this.add(key);
    }, delayMs);
    this.#delayed.set(key, { deadline, timer });
  }

  /** Schedules a retry after the key's next backoff delay. */
  addRateLimited(key: string): void {
    const failures = (this.#failures.get(key) ?? 0) + 1;
    this.#failures.set(key, failures);
    this.addAfter(key, this.#backoff(failures));
  }

  /** Clears the key's failure history, so its next failure starts again at the base delay. */
  forget(key: string): void {
    this.#failures.delete(key);
  }

  /** Consecutive failures recorded for the key. */
  retries(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  /** The next key to process; undefined once the queue shuts down. Call `done(key)` when finished. */
  get(): Promise<string | undefined> {
    const key = this.#queue.shift();
    if (key !== undefined) {
      this.#take(key);
      return Promise.resolve(key);
    }
    if (this.#shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  done(key: string): void {
    this.#processing.delete(key);
    if (this.#dirty.has(key) && !this.#shuttingDown) {
      this.#dirty.delete(key);
      this.add(key);
    }
  }

  /**
   * Runs `workers` loops that take keys and call the handler. Handlers get an AbortSignal that fires
   * when shutdown's grace period is over. Errors are the handler's business; one that escapes is
   * swallowed so a worker never dies.
   */
  run(workers: number, handler: WorkHandler): void {
    for (let i = 0; i < workers; i++) {
      const worker = this.#work(handler);
      this.#inFlight.add(worker);
      void worker.finally(() => this.#inFlight.delete(worker));
    }
  }

  /**
   * Stops intake and delayed adds, lets running handlers finish for up to `graceMs`, then aborts
   * their signal. Resolves when every worker has returned or the grace period is over.
   */
  async shutdown(graceMs: number): Promise<void> {
    this.#shuttingDown = true;
    for (const { timer } of this.#delayed.values()) clearTimeout(timer);
    this.#delayed.clear();
    this.#queue = [];
    this.#dirty.clear();
    for (const waiter of this.#waiters.splice(0)) waiter(undefined);
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([Promise.allSettled([...this.#inFlight]), graceOver]);
    clearTimeout(timer);
    this.#abort.abort(new Error('work queue shut down'));
  }

  async #work(handler: WorkHandler): Promise<void> {
    for (;;) {
      const key = await this.get();
      if (key === undefined) return;
      try {
        await handler(key, this.#abort.signal);
      } catch {
        // The handler owns error handling (requeue, logging); the worker must keep going.
      } finally {
        this.done(key);
      }
    }
  }

  #take(key: string): void {
    this.#dirty.delete(key);
    this.#processing.add(key);
  }

  #backoff(failures: number): number {
    return backoffDelay(
      failures,
      { initialMs: this.#baseDelayMs, maxMs: this.#maxDelayMs, jitter: this.#jitter },
      this.#random,
    );
  }
}
