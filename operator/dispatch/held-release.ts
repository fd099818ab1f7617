import type { Logger } from 'pino';
import { type AlarmEventStatus, DingTalkConditionReason } from '../api/index.ts';
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
  logger: Logger;
}

/**
 * Releases held targets whose configuration changed: their alarms go again, once, under their msgUuid,
 * or are held anew when the configuration still has a problem; those held past --max-hold-age are
 * recorded Failed.
 */
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
      if (now - entry.since >= ctx.config.maxHoldAge) {
        held.remove(entry);
        ledger.expired(entry, ctx.config.maxHoldAge, now);
        continue;
      }
      if (!held.changed(entry)) continue;
      held.remove(entry);
      this.#release(entry, now);
    }
  }

  stop(): void {
    this.#stopped = true;
  }

  #release(entry: HeldEntry, now: number): void {
    const { ctx, rules, ledger, outboxes } = this.#options;
    let released = 0;
    for (const [msgUuid, notifications] of entry.messages) {
      const [first] = notifications;
      const raw = first && ctx.caches.rules.get(first.rule.namespace, first.rule.name);
      const compiled = raw ? rules.compile(raw) : undefined;
      const target =
        compiled?.ok &&
        this.#options
          .plan(compiled.rule)
          .find(
            (t) =>
              t.service === entry.ref.service &&
              t.kind === entry.ref.kind &&
              (t.kind === 'Member' || t.name === entry.ref.name),
          );
      if (!compiled?.ok || !target) {
        // The rule or the target went meanwhile: the rule's targets as they are now have the alarms.
        const change = compiled?.ok
          ? { state: 'Suppressed' as const, reason: DingTalkConditionReason.TargetRemoved }
          : { state: 'Failed' as const, reason: DingTalkConditionReason.RuleDeleted };
        for (const n of notifications) {
          for (const alarm of n.alarms)
            ledger.updateTarget(alarm, n.rule, n.target.service, n.target.kind, n.target.names, change);
        }
        continue;
      }
      if (target.problem) {
        ledger.holdForProblem(entry.namespace, targetRef(target), target.problem, notifications, now);
        continue;
      }
      const progress = progressOf(notifications, this.#options.statusOf);
      outboxes.for(compiled.rule.namespace, target).restore(msgUuid, notifications, progress);
      released++;
    }
    this.#options.logger.info(
      { namespace: entry.namespace, service: entry.ref.service, target: entry.ref.name, released },
      'configuration changed; held alarms released',
    );
  }
}
