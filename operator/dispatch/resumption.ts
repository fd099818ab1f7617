import type { AlarmEventStatus, Delivery } from '../api/index.ts';
import type { CompiledRule } from '../rules/rule-book.ts';
import type { PlannedTarget } from '../targets/index.ts';
import { type Alarm, groupLabelsOf } from './alarm.ts';
import { sameDelivery } from './ledger.ts';
import { type MemberProgress, progressFrom } from './member-progress.ts';
import { type Notification, targetRef } from './notification.ts';

/** A message underway in the ledger, to be sent again under its msgUuid. */
export interface ResumedMessage {
  msgUuid: string;
  rule: CompiledRule;
  target: PlannedTarget;
  notifications: Notification[];
}

interface Part {
  rule: CompiledRule;
  target: PlannedTarget;
  alarms: Alarm[];
}

/**
 * What dispatch takes on from the ledger of an earlier run (or of another leader): messages that were
 * underway go again under their msgUuid, with every alarm the message carried; sends of the last rate
 * window count against their robot's budget, as DingTalk counted them.
 */
export class Resumption {
  readonly #pinned = new Map<string, Part[]>();
  /** msgUuids sent within the last window, per target (namespace/service/kind/name). */
  readonly #recentSends = new Map<string, Set<string>>();
  readonly #windowMs: number;

  constructor(windowMs: number) {
    this.#windowMs = windowMs;
  }

  get pinned(): number {
    return this.#pinned.size;
  }

  /** A delivery underway under its msgUuid: the alarm goes again in that message. */
  pin(delivery: Delivery, rule: CompiledRule, target: PlannedTarget, alarm: Alarm, now: number): void {
    const msgUuid = delivery.msgUuid as string;
    if (!delivery.lastAttemptAt || now - Date.parse(delivery.lastAttemptAt) < this.#windowMs) {
      this.#remember(alarm.namespace, delivery);
    }
    const parts = this.#pinned.get(msgUuid) ?? [];
    let part = parts.find(
      (p) => p.rule.key === rule.key && p.target.service === target.service && p.target.kind === target.kind,
    );
    if (!part) {
      part = { rule, target, alarms: [] };
      parts.push(part);
      this.#pinned.set(msgUuid, parts);
    }
    if (!part.alarms.includes(alarm)) part.alarms.push(alarm);
  }

  /** A finished delivery: sent within the last window, it still counts against the robot's budget. */
  rememberFinished(namespace: string, delivery: Delivery, now: number): void {
    if (
      delivery.msgUuid &&
      delivery.lastAttemptAt &&
      now - Date.parse(delivery.lastAttemptAt) < this.#windowMs
    ) {
      this.#remember(namespace, delivery);
    }
  }

  /** The messages pinned so far, to be sent again; they are forgotten here. */
  takePinned(): ResumedMessage[] {
    const messages: ResumedMessage[] = [];
    for (const [msgUuid, parts] of this.#pinned) {
      const [first] = parts;
      if (!first || first.target.problem) continue;
      messages.push({
        msgUuid,
        rule: first.rule,
        target: first.target,
        notifications: parts.map((part) => ({
          rule: {
            namespace: part.rule.namespace,
            name: part.rule.name,
            description: part.rule.rule.spec.description,
            mentions: part.rule.rule.spec.message.mentions,
            interactive: part.rule.rule.spec.interactive,
          },
          templates: part.rule.templates,
          target: targetRef(part.target),
          groupLabels: groupLabelsOf(part.alarms[0] as Alarm, part.rule.rule.spec.grouping.groupBy),
          alarms: part.alarms,
          repeat: false,
        })),
      });
    }
    this.#pinned.clear();
    return messages;
  }

  /**
   * The earlier run's sends to the target within the last window count against the budget once, as if
   * made just now: DingTalk received them no later than that, so the budget cannot overshoot.
   */
  countRecentSends(
    namespace: string,
    target: PlannedTarget,
    budget: { record(at: number): void },
    now: number,
  ): void {
    const key = recentKey(
      namespace,
      target.service,
      target.kind,
      target.kind === 'Member' ? '' : target.name,
    );
    const sends = this.#recentSends.get(key);
    if (!sends) return;
    this.#recentSends.delete(key);
    for (let i = 0; i < sends.size; i++) budget.record(now);
  }

  /** One window after start the earlier run's sends no longer matter. */
  forgetRecentSends(): void {
    this.#recentSends.clear();
  }

  #remember(namespace: string, d: Delivery): void {
    const key = recentKey(namespace, d.service, d.targetKind, d.targetKind === 'Member' ? '' : d.targetName);
    const sends = this.#recentSends.get(key) ?? new Set();
    sends.add(d.msgUuid as string);
    this.#recentSends.set(key, sends);
  }
}

function recentKey(namespace: string, service: string, kind: string, group: string): string {
  return `${namespace}/${service}/${kind}/${group || 'members'}`;
}

/** For members: how far a message had come, from the ledger, so no chunk DingTalk answered goes again. */
export function progressOf(
  notifications: readonly Notification[],
  statusOf: (alarm: Alarm) => AlarmEventStatus | undefined,
): MemberProgress | undefined {
  const [first] = notifications;
  const alarm = first?.alarms[0];
  if (!first || !alarm || first.target.kind !== 'Member') return undefined;
  const record = statusOf(alarm)?.deliveries?.find((d) =>
    sameDelivery(d, {
      ruleNamespace: first.rule.namespace,
      rule: first.rule.name,
      service: first.target.service,
      targetKind: 'Member',
      targetName: first.target.name,
    }),
  )?.members;
  return record ? progressFrom(record) : undefined;
}
