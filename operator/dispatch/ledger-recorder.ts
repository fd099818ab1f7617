import type { Logger } from 'pino';
import {
  type AlarmEventStatus,
  type Delivery,
  DingTalkConditionReason,
  type TargetKind,
} from '../api/index.ts';
import type { Alarm } from './alarm.ts';
import type { DeliveryHealth } from './delivery-health.ts';
import type { EventStatusStore } from './event-status.ts';
import type { HeldAlarms, HeldEntry } from './held-alarms.ts';
import { findDelivery, isFinal, summarize, timestamp, upsertDelivery } from './ledger.ts';
import { type MemberProgress, recordOf } from './member-progress.ts';
import type { Notification, TargetRef } from './notification.ts';
import type { OutboundMessage, Outcome, OutcomeSink, SendFailure, SendResult } from './outcome.ts';

export interface LedgerRecorderOptions {
  store: EventStatusStore;
  health: Health;
  held: HeldAlarms;
  logger: Logger;
  /** Hears of each event whose deliveries are all finished, for intake to take it on again if it changed. */
  onFinished: (key: string) => void;
  /**
   * Tracks a finished event again (from the cache) so a repeat's time can go on its ledger; false when
   * the event is gone or another object took its name.
   */
  retrack: (alarm: Pick<Alarm, 'key' | 'uid'>) => boolean;
}

/** What outcomes change of delivery health. */
export type Health = Pick<DeliveryHealth, 'sent' | 'throttled' | 'failed' | 'held' | 'rule'>;

type Change = Partial<Delivery> | ((d: Delivery) => Partial<Delivery>);

/**
 * The one writer of delivery entries (AlarmEvent status, through the EventStatusStore) and of the
 * delivery health that outcomes make. Intake records what each rule and target does with an alarm
 * here; the queues' outcomes (outcome.ts) arrive through `record`, as do held alarms, which it keeps
 * in HeldAlarms.
 */
export class LedgerRecorder implements OutcomeSink {
  readonly #store: EventStatusStore;
  readonly #health: Health;
  readonly #held: HeldAlarms;
  readonly #log: Logger;
  readonly #onFinished: (key: string) => void;
  readonly #retrack: (alarm: Pick<Alarm, 'key' | 'uid'>) => boolean;

  constructor(options: LedgerRecorderOptions) {
    this.#store = options.store;
    this.#health = options.health;
    this.#held = options.held;
    this.#log = options.logger;
    this.#onFinished = options.onFinished;
    this.#retrack = options.retrack;
  }

  async record(outcome: Outcome): Promise<void> {
    switch (outcome.kind) {
      case 'assigned':
        return this.#assigned(outcome.message);
      case 'attempted':
        return this.#attempted(outcome.message, outcome.at);
      case 'progressed':
        return this.#progressed(outcome.message);
      case 'delivered':
        return this.#delivered(outcome.message, outcome.result, outcome.at);
      case 'failed':
        return this.#failed(outcome.message, outcome.failure, outcome.retryAt, outcome.at);
      case 'held':
        return this.#heldMessage(outcome.message, outcome.failure, outcome.at);
      case 'paused':
        // The robot's health records the throttle with the failed outcome that caused the pause.
        return;
    }
  }

  /**
   * Changes an alarm's ledger; the write follows, coalesced. Only while the event tracked under its
   * name is that alarm (its uid): an outcome for a deleted event never lands on a re-created one.
   */
  update(alarm: Pick<Alarm, 'key' | 'uid'>, change: (status: AlarmEventStatus) => void): void {
    if (!this.#store.get(alarm.key, alarm.uid)) return;
    const status = this.#store.update(alarm.key, change);
    if (status && summarize(status.deliveries ?? []).finished) this.#onFinished(alarm.key);
  }

  /** Lays `change` over the alarm's entries for one rule and target (its ledger names), unless final. */
  updateTarget(
    alarm: Alarm,
    rule: { namespace: string; name: string },
    service: string,
    kind: TargetKind,
    names: readonly string[],
    change: Change,
  ): void {
    this.update(alarm, (status) => changeEntries(status, { rule, service, kind, names }, change));
  }

  /** A new notification for a target that is held: it joins the held ones, without spending budget. */
  holdMore(held: HeldEntry, notification: Notification, at: number): void {
    if (notification.repeat) return;
    this.#held.add(held, [notification]);
    this.#recordHeld(held, [notification], at);
  }

  /**
   * Alarms for a target whose configuration has a problem (a Secret missing or being re-created, a
   * service not there yet): held, like DingTalk's configuration refusals, until the configuration changes.
   */
  holdForProblem(
    namespace: string,
    ref: TargetRef,
    problem: { reason: string; message: string },
    notifications: readonly Notification[],
    at: number,
  ): void {
    const recorded = notifications.filter((n) => !n.repeat);
    if (recorded.length === 0) return;
    const held = this.#held.refused(namespace, ref, { error: problem.message, problem: problem.reason }, () =>
      this.#heldSince(recorded, at),
    );
    this.#held.add(held, recorded);
    this.#recordHeld(held, recorded, at);
  }

  /** A target held past the bound without a fix (or a month's turn): its alarms are recorded Failed. */
  expired(held: HeldEntry, maxHoldAgeMs: number, now: number): void {
    const hours = Math.round(maxHoldAgeMs / 3_600_000);
    const age = hours >= 1 ? `${hours}h` : `${Math.round(maxHoldAgeMs / 1000)}s`;
    for (const notifications of held.messages.values()) {
      for (const n of notifications) {
        for (const alarm of n.alarms)
          this.#updateNotified(alarm, n, {
            state: 'Failed',
            reason: DingTalkConditionReason.HeldTooLong,
            lastError: `held for ${age} without a configuration fix: ${held.error}`.slice(0, 1024),
          });
        this.#health.rule(n.rule.namespace, n.rule.name, { failed: 1 });
      }
    }
    this.#health.failed(
      held.namespace,
      held.ref.service,
      { kind: held.ref.kind, name: held.ref.name },
      now,
      held.errcode,
      held.error,
    );
  }

  async #assigned(message: OutboundMessage): Promise<void> {
    // lastAttemptAt goes on record with the msgUuid: a restart counts the send against the budget.
    const at = timestamp(Date.now());
    for (const { n, alarm } of ledgerTargets(message)) {
      this.#updateNotified(alarm, n, { state: 'Delivering', msgUuid: message.msgUuid, lastAttemptAt: at });
    }
    if (!(await this.#persist(message))) {
      this.#log.warn({ msgUuid: message.msgUuid }, 'sending before the ledger recorded the msgUuid');
    }
  }

  /**
   * An attempt goes on record with the message's outcome, not in a write of its own: with DingTalk's
   * answer taking longer than the store's coalescing, that write would cost every alarm of the message a
   * request more. A restart between the two still finds the send on record (Delivering, lastAttemptAt).
   */
  #attempted(message: OutboundMessage, at: number): void {
    for (const { n, alarm } of ledgerTargets(message)) {
      if (!this.#store.get(alarm.key, alarm.uid)) continue;
      this.#store.amend(alarm.key, (status) =>
        changeEntries(status, { ...n.target, rule: n.rule }, (d) => ({
          attempts: (d.attempts ?? 0) + 1,
          lastAttemptAt: timestamp(at),
          nextAttemptAt: undefined,
        })),
      );
    }
  }

  async #progressed(message: OutboundMessage): Promise<void> {
    const progress = message.progress as MemberProgress | undefined;
    if (!progress) return;
    for (const { n, alarm } of ledgerTargets(message)) {
      this.#updateNotified(alarm, n, { members: recordOf(progress) });
    }
    if (!(await this.#persist(message))) {
      this.#log.warn({ msgUuid: message.msgUuid }, 'going on before the ledger recorded the progress');
    }
  }

  #delivered(message: OutboundMessage, result: SendResult, at: number): void {
    const progress = message.progress as MemberProgress | undefined;
    for (const { n, alarm } of ledgerTargets(message)) {
      this.#updateNotified(alarm, n, () =>
        progress
          ? memberOutcome(progress, at, result.messageId)
          : {
              state: 'Delivered',
              reason: undefined,
              deliveredAt: timestamp(at),
              messageId: result.messageId,
              lastError: undefined,
              errcode: undefined,
              nextAttemptAt: undefined,
            },
      );
    }
    this.#repeated(message, at);
    for (const n of message.notifications) {
      this.#health.sent(n.rule.namespace, n.target.service, { kind: n.target.kind, name: n.target.name }, at);
      const newest = n.alarms[n.alarms.length - 1];
      this.#health.rule(
        n.rule.namespace,
        n.rule.name,
        { notified: 1 },
        { time: timestamp(at), alarmEvent: newest?.name, severity: newest?.spec.severity },
      );
    }
  }

  /**
   * A repeat went out: its time goes on each alarm's entries for the target, so the next repeat is due
   * from it after a restart or a takeover too, and not from the first notification.
   */
  #repeated(message: OutboundMessage, at: number): void {
    for (const n of message.notifications) {
      if (!n.repeat) continue;
      for (const alarm of n.alarms) {
        if (!this.#retrack(alarm)) continue;
        this.update(alarm, (status) => {
          for (const name of n.target.names) {
            const d = findDelivery(status, {
              ruleNamespace: n.rule.namespace,
              rule: n.rule.name,
              service: n.target.service,
              targetKind: n.target.kind,
              targetName: name,
            });
            if (d?.state === 'Delivered') d.repeatedAt = timestamp(at);
          }
        });
      }
    }
  }

  #failed(message: OutboundMessage, failure: SendFailure, retryAt: number | undefined, at: number): void {
    const change: Partial<Delivery> =
      retryAt === undefined
        ? {
            state: 'Failed',
            reason: failure.reason,
            errcode: failure.errcode,
            lastError: failure.error.slice(0, 1024),
            nextAttemptAt: undefined,
          }
        : {
            reason: failure.reason,
            errcode: failure.errcode,
            lastError: failure.error.slice(0, 1024),
            nextAttemptAt: timestamp(retryAt),
          };
    for (const { n, alarm } of ledgerTargets(message)) this.#updateNotified(alarm, n, change);
    for (const n of message.notifications) {
      const target = { kind: n.target.kind, name: n.target.name };
      if (failure.reason === 'Throttled' && retryAt !== undefined) {
        this.#health.throttled(n.rule.namespace, n.target.service, target, at, retryAt);
      } else if (retryAt === undefined) {
        this.#health.failed(n.rule.namespace, n.target.service, target, at, failure.errcode, failure.error);
        this.#health.rule(n.rule.namespace, n.rule.name, { failed: 1 });
      }
    }
  }

  #heldMessage(message: OutboundMessage, failure: SendFailure, at: number): void {
    const [first] = message.notifications;
    if (!first) return;
    const quotaSpentAt = failure.reason === 'QuotaExhausted' ? at : undefined;
    const held = this.#held.refused(first.rule.namespace, first.target, { ...failure, quotaSpentAt }, () =>
      this.#heldSince(message.notifications, at),
    );
    const recorded = message.notifications.filter((n) => !n.repeat);
    this.#held.add(held, recorded, message.msgUuid);
    this.#recordHeld(held, recorded, at);
    this.#health.held(
      first.rule.namespace,
      first.target.service,
      { kind: first.target.kind, name: first.target.name },
      at,
      failure.errcode,
      failure.error,
    );
  }

  /** When the message's alarms were first held (from the ledger, so a restart keeps the age), or `at`. */
  #heldSince(notifications: readonly Notification[], at: number): number {
    let since = at;
    for (const n of notifications) {
      for (const alarm of n.alarms) {
        for (const d of this.#store.get(alarm.key, alarm.uid)?.deliveries ?? []) {
          if (d.heldSince) since = Math.min(since, Date.parse(d.heldSince));
        }
      }
    }
    return since;
  }

  /**
   * Ledger entries Held with DingTalk's errcode (the service learns of it through the registry), or with
   * the configuration problem that holds them.
   */
  #recordHeld(held: HeldEntry, notifications: readonly Notification[], at: number): void {
    for (const n of notifications) {
      for (const alarm of n.alarms) {
        this.#updateNotified(alarm, n, (d) => ({
          state: 'Held',
          reason:
            held.problem ??
            (held.quotaSpentAt === undefined
              ? DingTalkConditionReason.Held
              : DingTalkConditionReason.QuotaExhausted),
          errcode: held.errcode,
          lastError: held.error.slice(0, 1024),
          heldSince: d.heldSince ?? timestamp(at),
          nextAttemptAt: undefined,
        }));
      }
    }
    this.#held.report(held);
  }

  #updateNotified(alarm: Alarm, n: Notification, change: Change): void {
    this.updateTarget(alarm, n.rule, n.target.service, n.target.kind, n.target.names, change);
  }

  /** Resolves once the ledger entries of the message's alarms are written. */
  #persist(message: OutboundMessage): Promise<boolean> {
    return this.#store.persist(new Set(ledgerTargets(message).map(({ alarm }) => alarm.key)));
  }
}

/** The entries of one rule and target: one per ledger name of the target. */
interface TargetEntries {
  rule: { namespace: string; name: string };
  service: string;
  kind: TargetKind;
  names: readonly string[];
}

/** Lays `change` over the entries of one rule and target, unless final. */
function changeEntries(
  status: AlarmEventStatus,
  { rule, service, kind, names }: TargetEntries,
  change: Change,
) {
  for (const name of names) {
    const id = {
      ruleNamespace: rule.namespace,
      rule: rule.name,
      service,
      targetKind: kind,
      targetName: name,
    };
    const existing = findDelivery(status, id);
    const resolved = typeof change === 'function' ? (existing ? change(existing) : undefined) : change;
    if (!resolved) continue;
    if (existing && !isFinal(existing)) Object.assign(existing, resolved);
    else if (!existing) upsertDelivery(status, id, resolved);
  }
}

/** The alarms whose entries a message changes: repeats are sent but change no ledger. */
function ledgerTargets(message: OutboundMessage): { n: Notification; alarm: Alarm }[] {
  return message.notifications
    .filter((n) => !n.repeat)
    .flatMap((n) => n.alarms.map((alarm) => ({ n, alarm })));
}

/** A member delivery's final entry: Delivered when anyone got it (failures counted), else Failed. */
function memberOutcome(
  progress: MemberProgress,
  at: number,
  messageId: string | undefined,
): Partial<Delivery> {
  const members = recordOf(progress);
  if (progress.delivered === 0) {
    const [first] = progress.failures;
    return {
      state: 'Failed',
      reason: first?.reason ?? DingTalkConditionReason.DeliveryFailed,
      errcode: first?.errcode,
      members,
      nextAttemptAt: undefined,
    };
  }
  return {
    state: 'Delivered',
    reason: progress.failed > 0 ? 'SomeMembersFailed' : undefined,
    deliveredAt: timestamp(at),
    messageId,
    lastError: undefined,
    errcode: undefined,
    members,
    nextAttemptAt: undefined,
  };
}
