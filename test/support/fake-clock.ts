import type { Clock } from '../../operator/runtime/timers.ts';

/**
 * A clock the test moves: `advance` runs the due timers in order, letting the promises each one sets
 * off settle before the next; `stepWall` moves the wall clock alone, as NTP or `date -s` does.
 */
export class FakeClock implements Clock {
  #now = 0;
  #wallOffset: number;
  #timers: { at: number; seq: number; callback: () => void }[] = [];
  #seq = 0;

  /** `wallStart`: the wall clock's reading at monotonic 0. */
  constructor(wallStart = 0) {
    this.#wallOffset = wallStart;
  }

  monotonicMs() {
    return this.#now;
  }

  wallMs() {
    return this.#now + this.#wallOffset;
  }

  timer(ms: number, callback: () => void) {
    const timer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, callback };
    this.#timers.push(timer);
    return () => {
      this.#timers = this.#timers.filter((t) => t !== timer);
    };
  }

  /** The delays of the timers still to fire, from now. */
  pending(): number[] {
    return this.#timers.map((t) => t.at - this.#now);
  }

  stepWall(ms: number) {
    this.#wallOffset += ms;
  }

  async advance(ms: number) {
    const end = this.#now + ms;
    await settled();
    for (;;) {
      const due = this.#timers.filter((t) => t.at <= end).sort((x, y) => x.at - y.at || x.seq - y.seq)[0];
      if (!due) break;
      this.#timers = this.#timers.filter((t) => t !== due);
      this.#now = due.at;
      due.callback();
      await settled();
    }
    this.#now = end;
    await settled();
  }
}

/** Every promise chain already set off has run once the next macrotask comes. */
export const settled = () => new Promise((resolve) => setImmediate(resolve));
