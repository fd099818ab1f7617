import type { Logger } from 'pino';
import type { AlarmEventStatus } from '../api/index.ts';
import type { OperatorContext } from '../manager/context.ts';
import type { CompiledRule, RuleBook } from '../rules/rule-book.ts';
import type { PlannedTarget } from '../targets/index.ts';
import type { Alarm } from './alarm.ts';
import type { HeldAlarms, HeldEntry } from './held-alarms.ts';
import type { LedgerRecorder } from './ledger-recorder.ts';
import { targetRef } from './notification.ts';
import type { Outboxes } from './outboxes.ts';
import { progressOf } from './resumption.ts';

export interface HeldReleaseOptions {
  ctx: OperatorContext;
  rules: RuleBook;
  plan: (rule: CompiledRule) => PlannedTarget[];
  held: HeldAlarms;
  ledger: LedgerRecorder;
  outboxes: Outboxes;
  statusOf: (alarm: Alarm) => AlarmEventStatus | undefined;
  /** Re-plans a namespace's events in progress (a held target's rule or target went). */
  replan: (namespace: string) => void;
  logger: Logger;
}

/**
 * Releases held targets whose configuration changed, or, held for a spent monthly quota, whose month
 * turned: their alarms go again, once, under their msgUuid, or are held anew when the configuration
 * still has a problem; those held past --max-hold-age are recorded Failed. Alarms held for a spent
 * month are kept at least a month (the longest one), so they see the month turn.
 */
const LONGEST_MONTH_MS = 31 * 24 * 3_600_000;

export class HeldRelease {
  readonly #options: HeldReleaseOptions;
  #stopped = false;

  constructor(options: HeldReleaseOptions) {
    this.#options = options;
  }

  recheck(namespace?: string): void {
    if (this.#stopped) return;
    const { held, ledger, ctx } = this.#options;
    const now = Date.now();
    for (const entry of held.list(namespace)) {
      const maxAge =
        entry.quotaSpentAt === undefined
          ? ctx.config.maxHoldAge
          : Math.max(ctx.config.maxHoldAge, LONGEST_MONTH_MS);
      if (now - entry.since >= maxAge) {
        held.remove(entry);
        ledger.expired(entry, maxAge, now);
        continue;
      }
      if (held.changed(entry) || this.#monthTurned(entry)) this.#release(entry, now);
    }
  }

  stop(): void {
    this.#stopped = true;
  }

  /**
   * Held for a spent quota, and DingTalk's month has turned since DingTalk last said so: a new month's
   * quota may take the alarms. Decided from the refused attempt's time, never from a timer; after a
   * restart the held alarms go again under their msgUuid and DingTalk's answer decides anew.
   */
  #monthTurned(entry: HeldEntry): boolean {
    const { quota } = this.#options.ctx;
    if (entry.quotaSpentAt === undefined) return false;
    return quota.monthOf(entry.quotaSpentAt) !== quota.monthOf(quota.now());
  }

  /**
   * Sends the target's held alarms again, or holds them anew when its configuration still has a
   * problem. A rule made invalid keeps them held until it is fixed. When the rule or the target went
   * meanwhile nothing is sent: re-planning the namespace finishes those entries with why and gives the
   * alarms to the targets planned now.
   */
  #release(entry: HeldEntry, now: number): void {
    const { ctx, rules, ledger, outboxes, held } = this.#options;
    const [first] = [...entry.messages.values()][0] ?? [];
    const raw = first && ctx.caches.rules.get(first.rule.namespace, first.rule.name);
    const compiled = raw ? rules.compile(raw) : undefined;
    if (compiled && !compiled.ok) {
      held.refresh(entry);
      return;
    }
    held.remove(entry);
    const target = compiled?.ok
      ? this.#options
          .plan(compiled.rule)
          .find(
            (t) =>
              t.service === entry.ref.service &&
              t.kind === entry.ref.kind &&
              (t.kind === 'Member' || t.name === entry.ref.name),
          )
      : undefined;
    if (!compiled?.ok || !target) {
      this.#options.replan(entry.namespace);
      return;
    }
    let released = 0;
    for (const [msgUuid, notifications] of entry.messages) {
      if (target.problem) {
        ledger.holdForProblem(entry.namespace, targetRef(target), target.problem, notifications, now);
        continue;
      }
      const [first] = notifications;
      if (!first) continue;
      outboxes
        .for(compiled.rule.namespace, target, first)
        .restore(msgUuid, notifications, progressOf(notifications, this.#options.statusOf));
      released++;
    }
    this.#options.logger.info(
      { namespace: entry.namespace, service: entry.ref.service, target: entry.ref.name, released },
      'configuration changed; held alarms released',
    );
  }
}
