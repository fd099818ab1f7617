import type { GroupTiming } from '../rules/rule-book.ts';
import type { Alarm } from './alarm.ts';

/** Why an alarm of a group is not notified. */
export type QuietReason = 'ResolvedBeforeNotified' | 'SendResolvedDisabled' | 'AlreadyNotified';

export interface AddResult {
  /** Alarms that will never be notified by this group, and why (may include an earlier pending one). */
  quiet: { alarm: Alarm; reason: QuietReason }[];
}

export interface Flush {
  /** Alarms to list: new firing ones and, with sendResolved, resolved ones. Every event of a fingerprint. */
  alarms: Alarm[];
  /** True when nothing changed and the still-firing alarms are repeated after repeatInterval. */
  repeat: boolean;
}

/**
 * One Alertmanager aggregation group (a rule plus the values of its groupBy labels):
 * - the first notification waits groupWait after the group appears, to collect more alarms;
 * - later changes (new or resolved alarms) go out at most once per groupInterval;
 * - unchanged firing alarms are repeated every repeatInterval;
 * - an alarm resolved before it was ever notified is not notified at all.
 * Pure: the caller supplies the clock and runs flush() at nextFlushAt.
 */
export class AggregationGroup {
  readonly key: string;
  readonly labels: Readonly<Record<string, string>>;
  timing: GroupTiming;
  /** Not yet notified, by fingerprint; several events of one fingerprint are listed once. */
  readonly #pending = new Map<string, Alarm[]>();
  /** Firing alarms already notified, by fingerprint, for repeats. */
  readonly #firing = new Map<string, Alarm>();
  #lastNotifiedAt: number | undefined;
  #nextFlushAt: number | undefined;

  constructor(key: string, labels: Record<string, string>, timing: GroupTiming) {
    this.key = key;
    this.labels = labels;
    this.timing = timing;
  }

  get nextFlushAt(): number | undefined {
    return this.#nextFlushAt;
  }

  /** Alarms waiting for their first notification. */
  get pending(): Alarm[] {
    return [...this.#pending.values()].flat();
  }

  /** True while the event waits for the group's next notification. */
  isPending(alarm: Pick<Alarm, 'key' | 'fingerprint'>): boolean {
    return this.#pending.get(alarm.fingerprint)?.some((a) => a.key === alarm.key) ?? false;
  }

  /** True when the group holds nothing and can be forgotten. */
  get idle(): boolean {
    return this.#pending.size === 0 && this.#firing.size === 0;
  }

  add(alarm: Alarm, now: number): AddResult {
    const quiet: AddResult['quiet'] = [];
    const fingerprint = alarm.fingerprint;
    if (alarm.spec.state === 'resolved') {
      const pending = this.#pending.get(fingerprint);
      const pendingFiring = pending?.filter((a) => a.spec.state === 'firing') ?? [];
      if (pendingFiring.length > 0 && !this.#firing.has(fingerprint)) {
        this.#pending.delete(fingerprint);
        for (const a of pending ?? []) quiet.push({ alarm: a, reason: 'ResolvedBeforeNotified' });
        quiet.push({ alarm, reason: 'ResolvedBeforeNotified' });
        return { quiet };
      }
      this.#firing.delete(fingerprint);
      if (!this.timing.sendResolved) {
        quiet.push({ alarm, reason: 'SendResolvedDisabled' });
        return { quiet };
      }
    } else if (this.#firing.has(fingerprint) && !this.#pending.has(fingerprint)) {
      quiet.push({ alarm, reason: 'AlreadyNotified' });
      return { quiet };
    }
    // An event added again (resolved in place) replaces its earlier version.
    const list = (this.#pending.get(fingerprint) ?? []).filter((a) => a.key !== alarm.key);
    // A resolved event replaces pending firing ones of an already-notified alarm: the news is "resolved".
    this.#pending.set(fingerprint, [...list.filter((a) => a.spec.state === alarm.spec.state), alarm]);
    for (const a of list.filter((a) => a.spec.state !== alarm.spec.state)) {
      quiet.push({ alarm: a, reason: 'AlreadyNotified' });
    }
    this.#schedule(now);
    return { quiet };
  }

  /**
   * Forgets a deleted AlarmEvent: it is neither notified nor repeated. The alarm stays firing in the group
   * only while another event of its fingerprint does.
   */
  remove(key: string): void {
    for (const [fingerprint, list] of this.#pending) {
      const rest = list.filter((a) => a.key !== key);
      if (rest.length === 0) this.#pending.delete(fingerprint);
      else if (rest.length < list.length) this.#pending.set(fingerprint, rest);
    }
    for (const [fingerprint, alarm] of this.#firing) {
      if (alarm.key === key) this.#firing.delete(fingerprint);
    }
    if (this.#pending.size === 0 && this.#firing.size === 0) this.#nextFlushAt = undefined;
  }

  /** Counts a firing alarm a previous run already notified, so repeats and resolves work after restart. */
  restoreNotified(alarm: Alarm, notifiedAt: number): void {
    if (alarm.spec.state === 'resolved') {
      this.#firing.delete(alarm.fingerprint);
      return;
    }
    this.#firing.set(alarm.fingerprint, alarm);
    this.#lastNotifiedAt = Math.max(this.#lastNotifiedAt ?? 0, notifiedAt);
    this.#nextFlushAt ??= this.#lastNotifiedAt + this.timing.repeatIntervalMs;
  }

  /** Takes what is due at `now`; undefined when nothing is (the caller then waits for nextFlushAt). */
  flush(now: number): Flush | undefined {
    if (this.#nextFlushAt === undefined || now < this.#nextFlushAt) return undefined;
    if (this.#pending.size > 0) {
      const alarms = [...this.#pending.values()].flat();
      for (const [fingerprint, list] of this.#pending) {
        const last = list[list.length - 1] as Alarm;
        if (last.spec.state === 'firing') this.#firing.set(fingerprint, last);
      }
      this.#pending.clear();
      this.#notified(now);
      return { alarms, repeat: false };
    }
    const last = this.#lastNotifiedAt ?? now;
    if (this.#firing.size > 0 && now - last >= this.timing.repeatIntervalMs) {
      this.#notified(now);
      return { alarms: [...this.#firing.values()], repeat: true };
    }
    this.#nextFlushAt = this.#firing.size > 0 ? last + this.timing.repeatIntervalMs : undefined;
    return undefined;
  }

  #notified(now: number): void {
    this.#lastNotifiedAt = now;
    this.#nextFlushAt = this.#firing.size > 0 ? now + this.timing.repeatIntervalMs : undefined;
  }

  #schedule(now: number): void {
    const due =
      this.#lastNotifiedAt === undefined
        ? now + this.timing.groupWaitMs
        : Math.max(now, this.#lastNotifiedAt + this.timing.groupIntervalMs);
    const first = this.#lastNotifiedAt === undefined && this.#nextFlushAt !== undefined;
    // A new group's timer runs from its first alarm; later alarms do not push it back.
    this.#nextFlushAt = first ? this.#nextFlushAt : Math.min(this.#nextFlushAt ?? due, due);
  }
}
