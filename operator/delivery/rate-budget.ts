/**
 * A sliding-window send budget for one robot: at most `limit` sends in any `windowMs`.
 *
 * A send is counted from the moment it starts until `windowMs` after it finished (`margin` added), so
 * whatever moment DingTalk records for it lies inside our window: latency can only make us wait longer,
 * never make DingTalk see one send too many.
 */
export class RateBudget {
  /** May change while sends are counted: the robot's configuration can change (robot-budgets.ts). */
  limit: number;
  readonly windowMs: number;
  readonly #marginMs: number;
  #finished: number[] = [];
  #inFlight = 0;
  /** DingTalk blocked the robot until then: nothing may start before. */
  #pausedUntil = 0;

  constructor({ limit, windowMs, marginMs = 500 }: { limit: number; windowMs: number; marginMs?: number }) {
    this.limit = limit;
    this.windowMs = windowMs;
    this.#marginMs = marginMs;
  }

  /** Sends that may start now. */
  available(now: number): number {
    this.#expire(now);
    if (now < this.#pausedUntil) return 0;
    return Math.max(0, this.limit - this.#finished.length - this.#inFlight);
  }

  /** When the next send may start (now when one is available). */
  nextSlotAt(now: number): number {
    return Math.max(this.#pausedUntil, this.#windowSlotAt(now));
  }

  /** Holds every send until `until`: DingTalk throttled the robot, whichever queue it answered. */
  pause(until: number): void {
    this.#pausedUntil = Math.max(this.#pausedUntil, until);
  }

  /** True while a pause holds the budget. */
  paused(now: number): boolean {
    return now < this.#pausedUntil;
  }

  /** When the window next has room, pause aside. */
  #windowSlotAt(now: number): number {
    this.#expire(now);
    if (this.limit - this.#finished.length - this.#inFlight > 0) return now;
    // A lowered limit may have more sends counted than it allows: as many must leave the window first.
    const freeing = this.#finished[this.#finished.length + this.#inFlight - this.limit];
    return freeing === undefined ? now + this.windowMs : freeing + this.windowMs + this.#marginMs;
  }

  /** True when nothing counts against the budget and no pause holds it: forgetting it loses nothing. */
  idle(now: number): boolean {
    this.#expire(now);
    return this.#finished.length === 0 && this.#inFlight === 0 && now >= this.#pausedUntil;
  }

  /** Takes a slot; call the returned function when the request has finished, whatever its outcome. */
  begin(): (finishedAt: number) => void {
    this.#inFlight++;
    let done = false;
    return (finishedAt) => {
      if (done) return;
      done = true;
      this.#inFlight--;
      this.record(finishedAt);
    };
  }

  /** Counts a send that finished at `at`, e.g. one a previous run recorded in the ledger. */
  record(at: number): void {
    this.#finished.push(at);
    this.#finished.sort((a, b) => a - b);
  }

  #expire(now: number): void {
    const horizon = now - this.windowMs - this.#marginMs;
    while (this.#finished.length > 0 && (this.#finished[0] as number) <= horizon) this.#finished.shift();
  }
}
