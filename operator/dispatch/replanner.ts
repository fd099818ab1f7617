import type { CompiledRule } from '../rules/rule-book.ts';
import type { QuietReason } from './aggregation.ts';
import type { Alarm } from './alarm.ts';
import { deliveryKey, notifiedBy, type WantedDelivery } from './desired.ts';
import type { EventStatusStore } from './event-status.ts';
import type { Groups } from './groups.ts';
import type { LedgerRecorder } from './ledger-recorder.ts';
import type { Notifier } from './notifier.ts';
import type { Planner } from './planner.ts';

export interface ReplannerOptions {
  planner: Planner;
  store: EventStatusStore;
  ledger: LedgerRecorder;
  groups: Groups;
  notifier: Notifier;
  /** Records alarms a group will not notify. */
  quiet: (rule: CompiledRule, quiet: { alarm: Alarm; reason: QuietReason }[]) => void;
  /** The events in progress in a namespace. */
  inProgress: (namespace: string) => Iterable<Alarm>;
}

/**
 * A rule, service or ConfigMap of a namespace changed: each event in progress there is set against what
 * the configuration wants now. Entries no longer wanted finish with why (those being sent stay with the
 * queue that has them); new targets get the alarm.
 */
export class Replanner {
  readonly #options: ReplannerOptions;
  readonly #due = new Set<string>();
  #stopped = false;

  constructor(options: ReplannerOptions) {
    this.#options = options;
  }

  /** Once for a burst of changes (a GitOps sync touches many objects at once), after the caches took them. */
  soon(namespace: string): void {
    if (this.#due.has(namespace)) return;
    this.#due.add(namespace);
    setImmediate(() => {
      this.#due.delete(namespace);
      if (!this.#stopped) this.#replan(namespace);
    });
  }

  stop(): void {
    this.#stopped = true;
  }

  #replan(namespace: string): void {
    const { planner, store, ledger } = this.#options;
    const now = Date.now();
    for (const alarm of [...this.#options.inProgress(namespace)]) {
      const status = store.get(alarm.key, alarm.uid);
      if (!status) continue;
      const diff = planner.diff(status, alarm);
      // A message being sent stays with its queue, which records how it ended.
      const unwanted = diff.unwanted.filter(({ delivery }) => delivery.state !== 'Delivering');
      if (unwanted.length === 0 && diff.added.length === 0) continue;
      const admitted = new Map<CompiledRule, WantedDelivery[]>();
      ledger.update(alarm, (s) => {
        for (const { delivery, reason } of unwanted) Object.assign(delivery, { state: 'Suppressed', reason });
        for (const w of diff.added) {
          if (planner.admit(s, w, now)) admitted.set(w.rule, [...(admitted.get(w.rule) ?? []), w]);
        }
      });
      for (const [rule, added] of admitted) this.#catchUp(rule, alarm, added, now);
    }
  }

  /**
   * New targets of a rule for an alarm in progress go with the group's next notification while the alarm
   * waits for it; a rule that already sent the alarm repeats it to them later; otherwise (held, or never
   * sent) the alarm goes to them now.
   */
  #catchUp(rule: CompiledRule, alarm: Alarm, added: WantedDelivery[], now: number): void {
    const { groups, store, ledger } = this.#options;
    const entry = groups.containing(alarm.key, rule.key);
    if (!entry) {
      this.#options.quiet(rule, groups.add(rule, alarm, now));
      return;
    }
    if (entry.group.isPending(alarm)) return;
    const status = store.get(alarm.key, alarm.uid);
    if (status && notifiedBy(status, rule)) {
      const ids = new Set(added.map((w) => deliveryKey(w.id)));
      ledger.update(alarm, (s) => {
        for (const d of s.deliveries ?? []) {
          if (ids.has(deliveryKey(d)) && d.state === 'Pending')
            Object.assign(d, { state: 'Suppressed', reason: 'AlreadyNotified' });
        }
      });
      return;
    }
    this.#options.notifier.notify(entry, [alarm], false, now);
  }
}
