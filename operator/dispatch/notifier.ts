import { type AlarmEventStatus, type Delivery, DingTalkConditionReason } from '../api/index.ts';
import type { QuotaGate } from '../quota/gate.ts';
import { holdingStep } from '../quota/policy.ts';
import type { CompiledRule } from '../rules/rule-book.ts';
import { windowVerdict } from '../rules/time-windows.ts';
import { type PlannedTarget, targetNames } from '../targets/index.ts';
import type { Alarm } from './alarm.ts';
import type { GroupEntry } from './groups.ts';
import type { HeldAlarms } from './held-alarms.ts';
import { findDelivery } from './ledger.ts';
import type { LedgerRecorder } from './ledger-recorder.ts';
import { type Notification, targetRef } from './notification.ts';
import type { Outboxes } from './outboxes.ts';

export interface NotifierOptions {
  plan: (rule: CompiledRule) => PlannedTarget[];
  statusOf: (alarm: Alarm) => AlarmEventStatus | undefined;
  held: HeldAlarms;
  ledger: LedgerRecorder;
  outboxes: Outboxes;
  /** The services' quotaPolicy as the month's count stands. */
  quota: QuotaGate;
}

/**
 * Turns a group's flush into one notification per target the rule plans now: queued in the target's
 * outbox, or held when the target cannot take it (DingTalk refused it before, or its configuration has
 * a problem: a Secret being re-created, a service not there yet), or recorded Suppressed by the rule's
 * suspension or time windows, or by the service's quotaPolicy as the month's DingTalk quota runs short.
 */
export class Notifier {
  readonly #options: NotifierOptions;

  constructor(options: NotifierOptions) {
    this.#options = options;
  }

  notify(entry: GroupEntry, alarms: Alarm[], repeat: boolean, now: number): void {
    const { rule } = entry;
    const { ledger } = this.#options;
    const verdict = rule.rule.spec.suspend
      ? 'Suspended'
      : windowVerdict(rule.rule.spec.timeWindows, new Date(now));
    for (const target of this.#options.plan(rule)) {
      const names = targetNames(target);
      // A first notification goes to the targets that wait for it; a repeat to every target.
      const waiting = repeat
        ? alarms
        : alarms.filter((alarm) => names.some((name) => this.#waiting(alarm, rule, target, name)));
      if (waiting.length === 0) continue;
      if (verdict !== 'Send') {
        if (repeat) continue;
        const change: Partial<Delivery> = { state: 'Suppressed', reason: verdict };
        for (const alarm of waiting)
          ledger.updateTarget(alarm, rule, target.service, target.kind, names, change);
        continue;
      }
      const open = this.#withinPolicy(rule, target, names, waiting, repeat);
      if (open.length === 0) continue;
      const ref = targetRef(target);
      const notification: Notification = {
        rule: {
          namespace: rule.namespace,
          name: rule.name,
          description: rule.rule.spec.description,
          mentions: rule.rule.spec.message.mentions,
          interactive: rule.rule.spec.interactive,
        },
        templates: rule.templates,
        target: ref,
        groupLabels: entry.group.labels as Record<string, string>,
        alarms: open,
        repeat,
      };
      if (target.problem) {
        ledger.holdForProblem(rule.namespace, ref, target.problem, [notification], now);
        continue;
      }
      const held = this.#options.held.of(rule.namespace, ref);
      // Sending to a target DingTalk refuses would only spend the robot's budget: it joins the held ones.
      if (held) ledger.holdMore(held, notification, now);
      else this.#options.outboxes.for(rule.namespace, target, notification).enqueue(notification);
    }
  }

  /**
   * The alarms the service's quotaPolicy lets through now; the others' entries are recorded Suppressed
   * (QuotaPolicy), and their repeats are not sent.
   */
  #withinPolicy(
    rule: CompiledRule,
    target: PlannedTarget,
    names: readonly string[],
    alarms: Alarm[],
    repeat: boolean,
  ): Alarm[] {
    const change: Partial<Delivery> = { state: 'Suppressed', reason: DingTalkConditionReason.QuotaPolicy };
    const steps = this.#options.quota.stepsFor(rule.namespace, target);
    if (!steps) return alarms;
    return alarms.filter((alarm) => {
      const step = holdingStep(steps, alarm.spec);
      if (step && !repeat)
        this.#options.ledger.updateTarget(alarm, rule, target.service, target.kind, names, change);
      return step === undefined;
    });
  }

  /** True when the alarm's entry for the target waits for its first message (Pending, no msgUuid). */
  #waiting(alarm: Alarm, rule: CompiledRule, target: PlannedTarget, name: string): boolean {
    const status = this.#options.statusOf(alarm);
    const d =
      status &&
      findDelivery(status, {
        ruleNamespace: rule.namespace,
        rule: rule.name,
        service: target.service,
        targetKind: target.kind,
        targetName: name,
      });
    return d?.state === 'Pending' && !d.msgUuid;
  }
}
