/**
 * Request bodies the receiver holds at once, in bytes: in total and per namespace. A body is held from
 * the moment it is admitted until its answer is sent, read, parsed and written meanwhile, and costs
 * several times its size in heap; so the bound on what is held bounds the receiver's memory whatever the
 * number of callers, and the bound per namespace keeps room for the others. A body that does not fit is
 * not read at all: the caller is told to come back (503 with Retry-After, which Alertmanager retries).
 */

export interface BytesInFlightLimits {
  total: number;
  perNamespace: number;
}

/** Gives back what a request held; calling it more than once gives back once. */
export type Release = () => void;

export class BytesInFlight {
  readonly #limits: BytesInFlightLimits;
  readonly #byNamespace = new Map<string, number>();
  #total = 0;

  constructor(limits: BytesInFlightLimits) {
    this.#limits = limits;
  }

  /** Holds `bytes` for `namespace`, or returns undefined when that would exceed a bound. */
  reserve(namespace: string, bytes: number): Release | undefined {
    const held = this.#byNamespace.get(namespace) ?? 0;
    if (this.#total + bytes > this.#limits.total || held + bytes > this.#limits.perNamespace) {
      return undefined;
    }
    this.#total += bytes;
    this.#byNamespace.set(namespace, held + bytes);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#total -= bytes;
      const left = (this.#byNamespace.get(namespace) ?? 0) - bytes;
      if (left > 0) this.#byNamespace.set(namespace, left);
      else this.#byNamespace.delete(namespace);
    };
  }

  /** Bytes held now, in total or for one namespace. */
  held(namespace?: string): number {
    return namespace === undefined ? this.#total : (this.#byNamespace.get(namespace) ?? 0);
  }
}
