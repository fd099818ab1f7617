/** A bulk apply's objects are taken in a handful of runs; short against anything a person waits for. */
export const CONFIGURATION_BURST_MS = 250;

/**
 * Work over the whole configuration, run once for a burst of changes: a GitOps sync or a bulk apply
 * changes hundreds of objects within seconds, and running such work per object costs the number of
 * objects squared. The first request schedules one run `delayMs` later; requests until then join it.
 */
export class Coalesced {
  readonly #run: () => void;
  readonly #delayMs: number;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(run: () => void, delayMs: number) {
    this.#run = run;
    this.#delayMs = delayMs;
  }

  request(): void {
    if (this.#stopped || this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.#stopped) this.#run();
    }, this.#delayMs);
    this.#timer.unref();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
