import type { Logger } from 'pino';
import type { AlarmEventStatus } from '../api/index.ts';
import { toKubeApiError } from '../errors.ts';
import { backoffDelay } from '../runtime/backoff.ts';
import { applyMergePatch, mergePatch, type StatusWriter, toJson } from '../runtime/status.ts';
import { settle } from './ledger.ts';

const WRITE_BACKOFF = { initialMs: 1_000, maxMs: 30_000, jitter: 0.2 };
/**
 * How long a change waits for more before it is written, unless a sender waits for it: an alarm sent at
 * once (groupWait 0) is recorded Pending and then Delivering within a few milliseconds, and one write of
 * both costs the send one API round trip instead of two.
 */
const COALESCE_MS = 20;

interface Entry {
  /** The object the status belongs to: a write lands on this uid or nowhere (runtime/status.ts). */
  metadata: { name: string; namespace: string; uid?: string; resourceVersion?: string; generation?: number };
  desired: AlarmEventStatus;
  written: AlarmEventStatus;
  version: number;
  writtenVersion: number;
  /** Failed writes in a row, for the retry backoff. */
  failures: number;
  waiters: { version: number; resolve: (ok: boolean) => void }[];
}

/**
 * Writes AlarmEvent statuses (the ledger) without letting a storm of events turn into a storm of
 * writes: changes to one event coalesce into one merge patch, a bounded number of patches run at a
 * time, and failed writes are retried in the background. `persist` is the one write a sender waits
 * for: the msgUuid must be on record before the message goes out, so a retry after a crash reuses it.
 */
export class EventStatusStore {
  readonly #writer: StatusWriter;
  readonly #log: Logger;
  readonly #concurrency: number;
  readonly #entries = new Map<string, Entry>();
  readonly #urgent = new Set<string>();
  readonly #dirty = new Set<string>();
  /** One write per event at a time: two patches racing would let the older land last and win. */
  readonly #inFlight = new Set<string>();
  #running = 0;
  #stopped = false;
  #coalescing: NodeJS.Timeout | undefined;

  constructor({
    writer,
    logger,
    concurrency = 8,
  }: { writer: StatusWriter; logger: Logger; concurrency?: number }) {
    this.#writer = writer;
    this.#log = logger;
    this.#concurrency = concurrency;
  }

  /**
   * Starts tracking an event with the status the API server has for it. An event still tracked keeps
   * its status and takes the newer generation (a re-opened event's status observes it); another object
   * of the same name (deleted and re-created) starts afresh: the old one's ledger is not its ledger.
   */
  track(key: string, metadata: Entry['metadata'], status: AlarmEventStatus | undefined): AlarmEventStatus {
    const existing = this.#entries.get(key);
    if (existing && existing.metadata.uid === metadata.uid) {
      // In place: a write in flight advances this resourceVersion, which the informer's may lag.
      existing.metadata.generation = metadata.generation;
      return existing.desired;
    }
    if (existing) this.forget(key);
    const written = copy(status ?? {});
    const entry: Entry = {
      metadata,
      desired: copy(written),
      written,
      version: 0,
      writtenVersion: 0,
      failures: 0,
      waiters: [],
    };
    this.#entries.set(key, entry);
    return entry.desired;
  }

  /**
   * Tracks a finished event again, from the object as cached, for one more write (a repeat's time);
   * false when the object is gone or another object took its name.
   */
  trackAgain(
    key: string,
    uid: string,
    cached: Readonly<{ metadata?: Partial<Entry['metadata']>; status?: unknown }> | undefined,
  ): boolean {
    if (this.get(key, uid)) return true;
    const { name = '', namespace = '', resourceVersion, generation } = cached?.metadata ?? {};
    if (!cached || cached.metadata?.uid !== uid) return false;
    this.track(key, { name, namespace, uid, resourceVersion, generation }, cached.status as AlarmEventStatus);
    return true;
  }

  /** The status tracked for an event; with `uid`, only if it is that object's. */
  get(key: string, uid?: string): AlarmEventStatus | undefined {
    const entry = this.#entries.get(key);
    if (uid !== undefined && entry?.metadata.uid !== uid) return undefined;
    return entry?.desired;
  }

  /** Changes an event's status; phase and conditions follow; the write happens soon, coalesced. */
  update(
    key: string,
    change: (status: AlarmEventStatus) => void,
    now = new Date(),
  ): AlarmEventStatus | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    change(entry.desired);
    settle(entry.desired, entry.metadata.generation, now);
    entry.version++;
    this.#dirty.add(key);
    this.#coalescing ??= setTimeout(() => {
      this.#coalescing = undefined;
      this.#pump();
    }, COALESCE_MS);
    return entry.desired;
  }

  /**
   * Changes an event's status without asking for a write: the change goes with the event's next one.
   * For what is worth keeping but not a request of its own, because a write follows anyway: a send's
   * attempt, whose outcome (Delivered, or a failure with its retry time) is recorded when the answer comes.
   */
  amend(key: string, change: (status: AlarmEventStatus) => void, now = new Date()): void {
    const entry = this.#entries.get(key);
    if (!entry) return;
    change(entry.desired);
    settle(entry.desired, entry.metadata.generation, now);
    entry.version++;
  }

  /** Resolves true once every given event's current status is written; false if a write failed. */
  persist(keys: Iterable<string>, timeoutMs = 10_000): Promise<boolean> {
    const waits: Promise<boolean>[] = [];
    for (const key of keys) {
      const entry = this.#entries.get(key);
      if (!entry || entry.writtenVersion >= entry.version) continue;
      this.#urgent.add(key);
      waits.push(new Promise((resolve) => entry.waiters.push({ version: entry.version, resolve })));
    }
    this.#pump();
    if (waits.length === 0) return Promise.resolve(true);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    return Promise.race([Promise.all(waits).then((all) => all.every(Boolean)), timeout]).finally(() =>
      clearTimeout(timer),
    );
  }

  /** Stops tracking an event (deleted, or finished and written). */
  forget(key: string): void {
    const entry = this.#entries.get(key);
    for (const waiter of entry?.waiters ?? []) waiter.resolve(false);
    this.#entries.delete(key);
    this.#dirty.delete(key);
    this.#urgent.delete(key);
  }

  /**
   * Events with changes not written yet: queued, being written or waiting to be retried. Under a busy API
   * server a storm's last ledger writes trail its messages; this says by how many.
   */
  get unwritten(): number {
    let count = 0;
    for (const entry of this.#entries.values()) if (entry.writtenVersion < entry.version) count++;
    return count;
  }

  get backlog(): number {
    return this.#dirty.size + this.#urgent.size;
  }

  /** Writes what is still dirty, for at most `graceMs`. */
  async drain(graceMs: number): Promise<void> {
    const deadline = Date.now() + graceMs;
    while (this.backlog + this.#running > 0 && Date.now() < deadline) {
      this.#pump();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    this.#stopped = true;
    clearTimeout(this.#coalescing);
  }

  #pump(): void {
    while (!this.#stopped && this.#running < this.#concurrency) {
      const key = this.#nextKey();
      if (key === undefined) return;
      const entry = this.#entries.get(key);
      if (!entry || entry.writtenVersion >= entry.version) continue;
      this.#running++;
      this.#inFlight.add(key);
      this.#write(key, entry).finally(() => {
        this.#running--;
        this.#inFlight.delete(key);
        this.#pump();
      });
    }
  }

  /** The next urgent, else dirty, event with no write in flight; a skipped one stays queued. */
  #nextKey(): string | undefined {
    for (const queue of [this.#urgent, this.#dirty]) {
      for (const key of queue) {
        if (this.#inFlight.has(key)) continue;
        this.#urgent.delete(key);
        this.#dirty.delete(key);
        return key;
      }
    }
    return undefined;
  }

  async #write(key: string, entry: Entry): Promise<void> {
    const version = entry.version;
    // Taken now: the ledger goes on changing `desired` while the write is under way. The patch is a copy
    // of what changed, so what was written and the patch make what is written now.
    const patch = mergePatch(entry.written, entry.desired);
    try {
      const result = patch === undefined ? 'unchanged' : await this.#writer.patch(entry.metadata, patch);
      if (result === 'gone') {
        // Deleted, or another object of the name now: what was meant for this one is dropped, not retried.
        if (this.#entries.get(key) === entry) this.forget(key);
        for (const waiter of entry.waiters.splice(0)) waiter.resolve(false);
        return;
      }
      if (patch !== undefined) entry.written = applyMergePatch(entry.written, patch) as AlarmEventStatus;
      entry.failures = 0;
      entry.writtenVersion = Math.max(entry.writtenVersion, version);
      const ready = entry.waiters.filter((w) => w.version <= entry.writtenVersion);
      entry.waiters = entry.waiters.filter((w) => w.version > entry.writtenVersion);
      for (const waiter of ready) waiter.resolve(true);
      if (entry.writtenVersion < entry.version) this.#dirty.add(key);
      // A finished event changes no more; the informer cache has it from here on.
      else if (entry.desired.finishedAt && this.#entries.get(key) === entry) this.#entries.delete(key);
    } catch (err) {
      const status = toKubeApiError(err)?.status;
      if (status === 400 || status === 422) {
        // Invalid for the API server: retrying the same status cannot succeed; the next change may.
        this.#log.error({ err, alarmEvent: key }, 'AlarmEvent status rejected; not retried until it changes');
        for (const waiter of entry.waiters.splice(0)) waiter.resolve(false);
        this.#urgent.delete(key);
        this.#dirty.delete(key);
        return;
      }
      entry.failures++;
      const delayMs = backoffDelay(entry.failures, WRITE_BACKOFF);
      this.#log.warn(
        { err, alarmEvent: key, retryInMs: delayMs },
        'could not write AlarmEvent status; will retry',
      );
      setTimeout(() => {
        if (this.#entries.get(key) !== entry) return;
        this.#dirty.add(key);
        this.#pump();
      }, delayMs).unref();
    }
  }
}

/** A status as JSON has it, which is all a status holds: faster than structuredClone. */
function copy(status: AlarmEventStatus): AlarmEventStatus {
  return toJson(status) as AlarmEventStatus;
}
