import type { CompiledRule } from '../rules/rule-book.ts';
import { AggregationGroup, type QuietReason } from './aggregation.ts';
import { type Alarm, groupLabelsOf } from './alarm.ts';

export interface GroupEntry {
  group: AggregationGroup;
  rule: CompiledRule;
  timer?: NodeJS.Timeout;
}

/**
 * The aggregation groups of every rule, with their timers: each runs `onDue` when its next flush is
 * due. Keyed by the rule (namespace and name) and the values of its groupBy labels.
 */
export class Groups {
  readonly #entries = new Map<string, GroupEntry>();
  /** The groups each AlarmEvent joined, by event key, so a deletion touches those groups only. */
  readonly #ofEvent = new Map<string, Set<string>>();
  readonly #onDue: (entry: GroupEntry) => void;
  #stopped = false;

  constructor(onDue: (entry: GroupEntry) => void) {
    this.#onDue = onDue;
  }

  /** The rule's group for the alarm (made if new), which the alarm is then counted in. */
  of(rule: CompiledRule, alarm: Alarm): GroupEntry {
    const labels = groupLabelsOf(alarm, rule.rule.spec.grouping.groupBy);
    const key = `${rule.key}\u0000${JSON.stringify(labels)}`;
    let entry = this.#entries.get(key);
    if (!entry) {
      entry = { group: new AggregationGroup(key, labels, rule.timing), rule };
      this.#entries.set(key, entry);
    }
    const groups = this.#ofEvent.get(alarm.key) ?? new Set();
    groups.add(key);
    this.#ofEvent.set(alarm.key, groups);
    return entry;
  }

  /** Adds the alarm to the rule's group; returns the alarms that group will not notify, and why. */
  add(rule: CompiledRule, alarm: Alarm, now: number): { alarm: Alarm; reason: QuietReason }[] {
    const entry = this.of(rule, alarm);
    const { quiet } = entry.group.add(alarm, now);
    this.schedule(entry);
    return quiet;
  }

  /** The rule's group the event joined, if any. */
  containing(eventKey: string, ruleKey: string): GroupEntry | undefined {
    for (const key of this.#ofEvent.get(eventKey) ?? []) {
      const entry = this.#entries.get(key);
      if (entry?.rule.key === ruleKey) return entry;
    }
    return undefined;
  }

  schedule(entry: GroupEntry): void {
    clearTimeout(entry.timer);
    const due = entry.group.nextFlushAt;
    if (this.#stopped) return;
    if (due === undefined) {
      if (entry.group.idle) this.#entries.delete(entry.group.key);
      return;
    }
    entry.timer = setTimeout(() => this.#onDue(entry), Math.max(0, due - Date.now()));
  }

  /** A deleted event is no longer firing anywhere: no group notifies or repeats it. */
  removeEvent(eventKey: string): void {
    for (const key of this.#ofEvent.get(eventKey) ?? []) {
      const entry = this.#entries.get(key);
      if (!entry) continue;
      entry.group.remove(eventKey);
      this.schedule(entry);
    }
    this.#ofEvent.delete(eventKey);
  }

  /** Drops a deleted rule's groups; returns them, for what waited in them to be recorded. */
  dropRule(ruleKey: string): GroupEntry[] {
    const dropped: GroupEntry[] = [];
    for (const entry of [...this.#entries.values()]) {
      if (entry.rule.key !== ruleKey) continue;
      clearTimeout(entry.timer);
      this.#entries.delete(entry.group.key);
      dropped.push(entry);
    }
    return dropped;
  }

  stop(): void {
    this.#stopped = true;
    for (const entry of this.#entries.values()) clearTimeout(entry.timer);
  }
}
