/** A one-way switch that can be waited for: opened once (a cache synced, a watch established), never closed. */
export class Latch {
  #open = false;
  readonly #waiters: Array<() => void> = [];

  get isOpen(): boolean {
    return this.#open;
  }

  open(): void {
    if (this.#open) return;
    this.#open = true;
    for (const resolve of this.#waiters.splice(0)) resolve();
  }

  /** Resolves once open; rejects with the signal's reason if it aborts first. */
  wait(signal?: AbortSignal): Promise<void> {
    if (this.#open) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(signal?.reason ?? new Error('aborted'));
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }
}
