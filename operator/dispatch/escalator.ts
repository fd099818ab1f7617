import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import {
  type AlarmEvent,
  type AlarmEventStatus,
  type EscalationRecord,
  type EscalationStep,
  parseAlarmEvent,
} from '../api/index.ts';
import type { RemindType } from '../dingtalk/cards.ts';
import type { CustomObject, OperatorContext } from '../manager/context.ts';
import { recordCall } from '../quota/billing.ts';
import type { CompiledRule, RuleBook } from '../rules/rule-book.ts';
import { windowVerdict } from '../rules/time-windows.ts';
import type { InformerEvent } from '../runtime/informer.ts';
import { cacheReader, type PlannedTarget, planTargets } from '../targets/index.ts';
import { type Alarm, groupLabelsOf, toAlarm } from './alarm.ts';
import { ladderState, underwaySteps, withRecord } from './escalation.ts';
import { timestamp } from './ledger.ts';
import { type Notification, targetRef } from './notification.ts';
import type { Outboxes } from './outboxes.ts';
import type { Outcome, OutcomeSink } from './outcome.ts';
import { writeStatusFields } from './status-fields.ts';

export interface EscalatorOptions {
  ctx: OperatorContext;
  rules: RuleBook;
  /** The dispatcher's queues: a step's messages spend the same robot budgets as alarms. */
  outboxes: () => Outboxes;
  logger: Logger;
}

/** One step's messages on their way. */
interface StepInFlight {
  ref: { namespace: string; name: string; uid: string };
  rule: { namespace: string; name: string };
  after: string;
  msgUuid: string;
  pending: number;
  failed: number;
  lastError?: string;
}

/**
 * Runs the rules' escalation ladders (escalation.ts decides, from each AlarmEvent's status as cached):
 * a step due goes on the escalation ledger (Delivering, with its msgUuid) before its messages are queued
 * in the targets' outboxes; their outcomes, which the outboxes report here for the step's msgUuids,
 * finish it; a Ding step is one call of the app robot per member target instead. A step on the ledger
 * as Delivering after a restart or takeover is sent again under its
 * msgUuid; a step not on the ledger is taken once due. Mute windows and suspend record a step
 * Suppressed; an acknowledgement or resolve stops the ladder, a snooze defers it.
 */
export class Escalator {
  readonly #options: EscalatorOptions;
  readonly #log: Logger;
  /** The next look at an event's ladder, per event uid and rule. */
  readonly #timers = new Map<string, NodeJS.Timeout>();
  /** Steps being written or sent by this run, by event uid, rule and after. */
  readonly #taking = new Set<string>();
  readonly #inFlight = new Map<string, StepInFlight>();
  /**
   * Steps this run queued, by event uid, rule and after: a step still Delivering in the cache (its
   * outcome not written yet, or not seen yet) is not queued again by this run.
   */
  readonly #queued = new Set<string>();
  #unsubscribe: (() => void)[] = [];
  #stopped = false;

  constructor(options: EscalatorOptions) {
    this.#options = options;
    this.#log = options.logger.child({ stage: 'escalation' });
  }

  start(): void {
    const { alarms } = this.#options.ctx.caches;
    for (const informer of alarms.informers)
      this.#unsubscribe.push(informer.onEvent((event) => this.#onEvent(event)));
    for (const raw of alarms.list()) this.#consider(raw);
  }

  stop(): void {
    this.#stopped = true;
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }

  /** The outboxes' sink: escalation messages' outcomes are recorded here, the rest by `ledger`. */
  besides(ledger: OutcomeSink): OutcomeSink {
    return {
      record: (outcome) =>
        outcome.kind !== 'paused' && this.#inFlight.has(outcome.message.msgUuid)
          ? this.record(outcome)
          : ledger.record(outcome),
    };
  }

  async record(outcome: Outcome): Promise<void> {
    // Stopped (leadership lost, shutdown): the next leader owns the ledger and sends what is Delivering.
    if (outcome.kind === 'paused' || this.#stopped) return;
    const step = this.#inFlight.get(outcome.message.msgUuid);
    if (!step) return;
    if (outcome.kind === 'failed' && outcome.retryAt === undefined) step.lastError = outcome.failure.error;
    else if (outcome.kind === 'held') step.lastError = outcome.failure.error;
    else if (outcome.kind !== 'delivered') return;
    this.#inFlight.delete(outcome.message.msgUuid);
    if (outcome.kind !== 'delivered') step.failed++;
    if (--step.pending > 0) return;
    const done: Partial<EscalationRecord> =
      step.failed === 0
        ? { state: 'Delivered', deliveredAt: timestamp(outcome.at) }
        : { state: 'Failed', reason: 'DingTalkError', lastError: step.lastError?.slice(0, 1024) };
    await this.#finish(step, done);
  }

  #onEvent(event: InformerEvent<CustomObject>): void {
    if (event.type === 'delete') {
      const prefix = `${event.object.metadata?.uid}/`;
      for (const [key, timer] of this.#timers)
        if (key.startsWith(prefix)) {
          clearTimeout(timer);
          this.#timers.delete(key);
        }
      for (const id of this.#queued) if (id.startsWith(prefix)) this.#queued.delete(id);
      return;
    }
    this.#consider(event.object);
  }

  #consider(raw: Readonly<CustomObject>): void {
    if (this.#stopped) return;
    const namespace = raw.metadata?.namespace ?? '';
    // Most alarms' rules have no ladder: those events are not parsed on every status write.
    const rules = this.#laddersOf(namespace, (raw.status ?? {}) as AlarmEventStatus);
    if (rules.length === 0) return;
    let event: AlarmEvent;
    try {
      event = parseAlarmEvent(raw);
    } catch {
      return; // dispatch reports an invalid event
    }
    const alarm = toAlarm(event);
    const status = event.status ?? {};
    for (const rule of rules) {
      const ladder = rule.rule.spec.escalation ?? [];
      for (const record of underwaySteps(status, rule)) {
        const step = ladder.find((s) => s.after === record.after);
        if (step) this.#send(alarm, rule, step, record.msgUuid ?? stepUuid(alarm.uid, rule.key, step.after));
      }
      const timerKey = `${alarm.uid}/${rule.key}`;
      clearTimeout(this.#timers.get(timerKey));
      this.#timers.delete(timerKey);
      const now = Date.now();
      const next = ladderState({ ladder, rule, status, state: alarm.spec.state, now });
      if (next.kind === 'due') void this.#take(alarm, rule, next.step, now);
      else if (next.kind === 'wait') {
        const timer = setTimeout(() => {
          this.#timers.delete(timerKey);
          const current = this.#options.ctx.caches.alarms.getByKey(alarm.key);
          if (current?.metadata?.uid === alarm.uid) this.#consider(current);
        }, next.at - now);
        timer.unref();
        this.#timers.set(timerKey, timer);
      }
    }
  }

  /** The rules of the alarm's ledger (its own namespace) that have a ladder, as cached now. */
  #laddersOf(namespace: string, status: AlarmEventStatus): CompiledRule[] {
    // Looked at on every status write of every alarm: no copies of its ledger are made for it.
    const rules: CompiledRule[] = [];
    for (const d of status.deliveries ?? []) {
      if (d.ruleNamespace !== namespace) continue;
      const raw = this.#options.ctx.caches.rules.get(namespace, d.rule);
      const compiled = raw && this.#options.rules.compile(raw);
      if (compiled?.ok && compiled.rule.rule.spec.escalation && !rules.includes(compiled.rule))
        rules.push(compiled.rule);
    }
    return rules;
  }

  async #take(alarm: Alarm, rule: CompiledRule, step: EscalationStep, now: number): Promise<void> {
    const id = `${alarm.uid}/${rule.key}/${step.after}`;
    if (this.#taking.has(id) || this.#stopped) return;
    this.#taking.add(id);
    try {
      const { spec } = rule.rule;
      const verdict = spec.suspend ? 'Suspended' : windowVerdict(spec.timeWindows, new Date(now));
      const msgUuid = stepUuid(alarm.uid, rule.key, step.after);
      const targets = this.#targets(rule, step);
      const problem = targets.find((t) => t.problem)?.problem;
      const record: EscalationRecord = {
        ruleNamespace: rule.namespace,
        rule: rule.name,
        after: step.after,
        service: step.to.name,
        takenAt: timestamp(now),
        ...(verdict !== 'Send'
          ? { state: 'Suppressed', reason: verdict }
          : targets.length === 0 || problem
            ? { state: 'Failed', reason: problem?.reason ?? 'TargetNotFound', lastError: problem?.message }
            : { state: 'Delivering', msgUuid }),
      };
      let written = false;
      await writeStatusFields(
        this.#options.ctx.kube,
        { namespace: alarm.namespace, name: alarm.name },
        (event) => {
          if (event.metadata?.uid !== alarm.uid) return undefined;
          const status = (event.status ?? {}) as AlarmEventStatus;
          // Taken already (another run, or this one before the cache caught up): not again.
          written = !(status.escalations ?? []).some(
            (r) => r.ruleNamespace === rule.namespace && r.rule === rule.name && r.after === step.after,
          );
          return written ? { escalations: withRecord(status, record) } : undefined;
        },
      );
      this.#log.info(
        { alarmEvent: alarm.key, rule: rule.key, after: step.after, state: record.state },
        'escalation step taken',
      );
      if (written && record.state === 'Delivering') this.#send(alarm, rule, step, msgUuid);
    } catch (err) {
      this.#log.warn(
        { err, alarmEvent: alarm.key, rule: rule.key },
        'could not take an escalation step; will retry',
      );
      setTimeout(() => this.#reconsider(alarm), 5_000).unref();
    } finally {
      this.#taking.delete(id);
    }
  }

  /** Queues the step's messages, one per target, under msgUuids derived from the step's. */
  #send(alarm: Alarm, rule: CompiledRule, step: EscalationStep, msgUuid: string): void {
    const id = `${alarm.uid}/${rule.key}/${step.after}`;
    if (this.#queued.has(id)) return;
    const targets = this.#targets(rule, step).filter((t) => !t.problem);
    if (targets.length === 0) return;
    this.#queued.add(id);
    if (step.via === 'Ding') {
      void this.#ding(alarm, rule, step, targets);
      return;
    }
    const inFlight: StepInFlight = {
      ref: { namespace: alarm.namespace, name: alarm.name, uid: alarm.uid },
      rule: { namespace: rule.namespace, name: rule.name },
      after: step.after,
      msgUuid,
      pending: targets.length,
      failed: 0,
    };
    targets.forEach((target, i) => {
      const uuid = i === 0 ? msgUuid : `${msgUuid}-${i}`;
      this.#inFlight.set(uuid, inFlight);
      const notification: Notification = {
        rule: {
          namespace: rule.namespace,
          name: rule.name,
          description: rule.rule.spec.description,
          mentions: rule.rule.spec.message.mentions,
        },
        templates: rule.templates,
        target: targetRef(target),
        groupLabels: groupLabelsOf(alarm, rule.rule.spec.grouping.groupBy),
        alarms: [alarm],
        // Still firing and unacknowledged: it reads as a repeat, to people who did not have it yet.
        repeat: true,
      };
      this.#options.outboxes().for(rule.namespace, target, notification).restore(uuid, [notification]);
    });
  }

  /**
   * A DING from the app robot of each member target to its members, one call each. It has no idempotency
   * key, so a restart between the call and its record reminds them twice rather than not at all.
   */
  async #ding(
    alarm: Alarm,
    rule: CompiledRule,
    step: EscalationStep,
    targets: PlannedTarget[],
  ): Promise<void> {
    const { ctx } = this.#options;
    const done = {
      ref: { namespace: alarm.namespace, name: alarm.name, uid: alarm.uid },
      rule,
      after: step.after,
    };
    const failures: string[] = [];
    for (const target of targets) {
      if (target.kind !== 'Member' || !target.app) continue;
      try {
        const { userIds } = await ctx.members.resolve(alarm.namespace, {
          ...target.app,
          members: target.recipients,
        });
        if (userIds.length === 0) throw new Error(`no member of ${target.service} resolves to a userId`);
        // A DING is an API call of the app: it counts against the month's quota.
        const call = {
          namespace: alarm.namespace,
          service: target.service,
          bucket: { kind: 'App' },
        } as const;
        const result = await ctx.dingtalk.cards
          .sendDing(target.app, {
            userIds,
            content: `【${alarm.spec.severity.toUpperCase()}】${alarm.spec.title}: not acknowledged ${step.after} after it was sent (${rule.key})`,
            remindType: REMIND[step.remindType ?? 'App'],
          })
          .catch((err: unknown) => {
            recordCall(ctx.quota, call, err);
            throw err;
          });
        recordCall(ctx.quota, call);
        if (result.failedUserIds.length > 0)
          failures.push(`DingTalk did not remind ${result.failedUserIds.slice(0, 20).join(', ')}`);
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
    await this.#finish(
      done,
      failures.length === 0
        ? { state: 'Delivered', deliveredAt: timestamp(Date.now()) }
        : { state: 'Failed', reason: 'DingTalkError', lastError: failures.join('; ').slice(0, 1024) },
    );
  }

  /** The step's targets now; a Ding reaches members only. */
  #targets(rule: CompiledRule, step: EscalationStep): PlannedTarget[] {
    const { caches } = this.#options.ctx;
    const lookup = { service: (ns: string, name: string) => caches.services.get(ns, name) };
    const targets = planTargets(rule.namespace, [step.to], lookup, cacheReader(caches));
    return step.via === 'Ding' ? targets.filter((t) => t.kind === 'Member') : targets;
  }

  async #finish(
    step: Pick<StepInFlight, 'ref' | 'rule' | 'after'>,
    change: Partial<EscalationRecord>,
  ): Promise<void> {
    try {
      await writeStatusFields(this.#options.ctx.kube, step.ref, (event) => {
        if (event.metadata?.uid !== step.ref.uid) return undefined;
        const status = (event.status ?? {}) as AlarmEventStatus;
        const record = (status.escalations ?? []).find(
          (r) =>
            r.ruleNamespace === step.rule.namespace &&
            r.rule === step.rule.name &&
            r.after === step.after &&
            r.state === 'Delivering',
        );
        return record ? { escalations: withRecord(status, { ...record, ...change }) } : undefined;
      });
    } catch (err) {
      // Left Delivering: the next run sends it again under its msgUuid, which DingTalk shows once.
      this.#log.warn(
        { err, alarmEvent: `${step.ref.namespace}/${step.ref.name}` },
        'could not record an escalation step',
      );
    }
  }

  #reconsider(alarm: Alarm): void {
    const current = this.#options.ctx.caches.alarms.getByKey(alarm.key);
    if (current?.metadata?.uid === alarm.uid) this.#consider(current);
  }
}

const REMIND: Record<NonNullable<EscalationStep['remindType']>, RemindType> = {
  App: 'app',
  SMS: 'sms',
  Call: 'call',
};

/** The msgUuid of a step: the same in every run, so a step sent again is shown once. */
function stepUuid(uid: string, ruleKey: string, after: string): string {
  const h = createHash('sha256').update(`${uid}\u0000${ruleKey}\u0000${after}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}
