import type { Logger } from 'pino';
import {
  type AlarmEvent,
  type AlarmEventStatus,
  type Delivery,
  DingTalkConditionReason,
  parseAlarmEvent,
} from '../api/index.ts';
import { RateBudget } from '../delivery/rate-budget.ts';
import { RobotBudgets } from '../delivery/robot-budgets.ts';
import type { Component, CustomObject, OperatorContext } from '../manager/context.ts';
import { type CompiledRule, RuleBook } from '../rules/rule-book.ts';
import { windowVerdict } from '../rules/time-windows.ts';
import type { InformerEvent } from '../runtime/informer.ts';
import { cacheReader, type PlannedTarget, planTargets, targetNames } from '../targets/index.ts';
import { AggregationGroup, type QuietReason } from './aggregation.ts';
import { type Alarm, groupLabelsOf, toAlarm } from './alarm.ts';
import {
  configurationUsage,
  groupOutboxKey,
  memberOutboxKey,
  outboxInUse,
  robotOfOutbox,
} from './configuration-usage.ts';
import { DeliveryHealth } from './delivery-health.ts';
import { EventStatusStore } from './event-status.ts';
import { HeldAlarms, type HeldEntry } from './held-alarms.ts';
import { byRule, type DeliveryId, findDelivery, isFinal, sameDelivery, upsertDelivery } from './ledger.ts';
import { LedgerRecorder } from './ledger-recorder.ts';
import { matchesRule } from './match.ts';
import { type MemberProgress, progressFrom } from './member-progress.ts';
import { digest, type Notification, targetRef } from './notification.ts';
import { Outbox } from './outbox.ts';
import { intakeOf, markResolved, reopenForResolved } from './resolution.ts';
import { Sender, senderOf } from './sender.ts';

export interface DispatcherOptions {
  /** The rate window of a group robot; DingTalk's is a minute. */
  rateWindowMs?: number;
  /** How long a robot stays paused after DingTalk throttled it; DingTalk blocks for ten minutes. */
  blockMs?: number;
  /** Concurrent AlarmEvent status writes. */
  statusConcurrency?: number;
  /** How often delivery health is written to DingTalkService and AlarmRule status. */
  healthIntervalMs?: number;
  /** How often held targets are checked for a changed configuration and for their age. */
  heldCheckIntervalMs?: number;
  /**
   * How often budgets, queues, credentials and health follow the configuration when nothing changed
   * (a queue emptied since); every change of a service or Secret makes them follow it as well.
   */
  configurationIntervalMs?: number;
}

interface GroupEntry {
  group: AggregationGroup;
  rule: CompiledRule;
  timer?: NodeJS.Timeout;
}

/** A notification from a previous run, waiting to be re-sent under its msgUuid. */
interface PinnedPart {
  rule: CompiledRule;
  target: PlannedTarget;
  alarms: Alarm[];
}

const MINUTE = 60_000;
const APP_CALLS_PER_SECOND = 20;

/**
 * The dispatch pipeline, one way: intake (AlarmEvent → alarm) → matching (rules of the alarm's own
 * namespace) → aggregation group (Alertmanager timers) → per-robot outbox (rate budget, digests,
 * retries; outbox.ts), which sends through the Sender (sender.ts) → outcomes (outcome.ts) → the
 * LedgerRecorder (ledger-recorder.ts), the one writer of the ledger (AlarmEvent status) and of delivery
 * health. The dispatcher wires these stages and handles no outcome itself. Everything in memory is
 * re-derived from the ledger when a run starts: Pending entries are grouped again, entries that were
 * being sent are re-sent under their recorded msgUuid, and recent sends count against each robot's budget.
 */
export class Dispatcher implements Component {
  readonly name = 'dispatch';
  readonly #ctx: OperatorContext;
  readonly #log: Logger;
  readonly #rateWindowMs: number;
  readonly #blockMs: number;
  readonly #rules = new RuleBook();
  readonly #store: EventStatusStore;
  readonly #health: DeliveryHealth;
  readonly #held: HeldAlarms;
  readonly #ledger: LedgerRecorder;
  readonly #sender: Sender;
  readonly #groups = new Map<string, GroupEntry>();
  /** The groups each AlarmEvent joined, by event key, so a deletion touches those groups only. */
  readonly #groupsOfEvent = new Map<string, Set<string>>();
  readonly #outboxes = new Map<string, Outbox>();
  readonly #appBudgets = new Map<string, RateBudget>();
  /**
   * Events this run has taken on, by uid: still in progress, and the generation last looked at. Informer
   * updates are not re-dispatched; a new generation of a finished event may re-open it (resolution.ts).
   */
  readonly #known = new Map<string, { active: boolean; generation: number | undefined }>();
  readonly #pinned = new Map<string, PinnedPart[]>();
  /** msgUuids sent recently per target (namespace/service/kind/name), from the ledger, at start. */
  readonly #recentSends = new Map<string, Set<string>>();
  readonly #heldCheckIntervalMs: number;
  readonly #robotBudgets: RobotBudgets;
  #heldTimer: NodeJS.Timeout | undefined;
  readonly #configurationIntervalMs: number;
  #configurationTimer: NodeJS.Timeout | undefined;
  #configurationDue = false;
  readonly #unsubscribe: (() => void)[] = [];
  #stopped = false;

  constructor(ctx: OperatorContext, options: DispatcherOptions = {}) {
    this.#ctx = ctx;
    this.#log = ctx.logger.child({ component: 'dispatch' });
    this.#rateWindowMs = options.rateWindowMs ?? MINUTE;
    this.#blockMs = options.blockMs ?? 10 * MINUTE;
    this.#heldCheckIntervalMs = options.heldCheckIntervalMs ?? 10_000;
    this.#configurationIntervalMs = options.configurationIntervalMs ?? MINUTE;
    // A shorter rate window (tests) needs budgets of its own; otherwise the ones test messages share.
    this.#robotBudgets =
      this.#rateWindowMs === MINUTE
        ? ctx.robotBudgets
        : new RobotBudgets({ limit: ctx.config.robotRateLimit, windowMs: this.#rateWindowMs });
    this.#store = new EventStatusStore({
      writer: ctx.status.alarms,
      logger: this.#log,
      concurrency: options.statusConcurrency ?? 8,
    });
    this.#health = new DeliveryHealth(
      ctx.kube,
      {
        service: (ns, name) => ctx.caches.services.get(ns, name),
        rule: (ns, name) => ctx.caches.rules.get(ns, name),
      },
      this.#log,
      options.healthIntervalMs,
    );
    this.#held = new HeldAlarms(ctx.held, ctx.caches);
    this.#ledger = new LedgerRecorder({
      store: this.#store,
      health: this.#health,
      held: this.#held,
      logger: this.#log,
      onFinished: (key) => this.#finished(key),
    });
    this.#sender = new Sender(ctx);
  }

  async start(signal: AbortSignal): Promise<void> {
    const { caches } = this.#ctx;
    const informers = [
      caches.alarms,
      caches.rules,
      caches.services,
      caches.secrets,
      caches.configMaps,
    ].flatMap<{ waitForSync(signal: AbortSignal): Promise<void> }>((cache) => cache.informers);
    await Promise.all(informers.map((informer) => informer.waitForSync(signal)));
    // Stopped while waiting (shutdown stops components before it aborts the signal): start nothing.
    if (signal.aborted || this.#stopped) return;
    for (const informer of caches.alarms.informers) {
      this.#unsubscribe.push(informer.onEvent((event) => this.#onAlarmEvent(event)));
    }
    // A change of configuration in a namespace may release its held alarms.
    for (const cache of [caches.services, caches.secrets, caches.configMaps]) {
      for (const informer of cache.informers) {
        this.#unsubscribe.push(
          informer.onEvent((event) => {
            if (this.#held.size > 0) this.#recheckHeld(event.namespace);
            this.#followConfigurationSoon();
          }),
        );
      }
    }
    for (const informer of caches.rules.informers) {
      this.#unsubscribe.push(
        informer.onEvent((event) => {
          if (event.type === 'delete') this.#onRuleDeleted(event.key);
        }),
      );
    }
    const existing = [...caches.alarms.list()].sort(byCreation);
    for (const raw of existing) this.#observe(raw);
    this.#restorePinned();
    this.#health.start();
    this.#heldTimer = setInterval(() => this.#recheckHeld(), this.#heldCheckIntervalMs);
    this.#heldTimer.unref();
    this.#followConfiguration();
    this.#configurationTimer = setInterval(() => this.#followConfiguration(), this.#configurationIntervalMs);
    this.#configurationTimer.unref();
    this.#log.info({ alarmEvents: existing.length, resent: this.#pinned.size }, 'dispatch started');
    this.#pinned.clear();
    // Sends of the previous leader count against a robot's budget for one window after start, whenever
    // its outbox is first needed; later they no longer matter.
    setTimeout(() => this.#recentSends.clear(), this.#rateWindowMs).unref();
  }

  async stop(graceMs: number): Promise<void> {
    this.#stopped = true;
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    for (const entry of this.#groups.values()) clearTimeout(entry.timer);
    clearInterval(this.#heldTimer);
    clearInterval(this.#configurationTimer);
    const started = Date.now();
    await Promise.race([
      Promise.all([...this.#outboxes.values()].map((outbox) => outbox.stop())),
      new Promise((resolve) => setTimeout(resolve, graceMs)),
    ]);
    await this.#store.drain(Math.max(0, graceMs - (Date.now() - started)));
    await this.#health.stop();
  }

  #onAlarmEvent(event: InformerEvent<CustomObject>): void {
    if (this.#stopped) return;
    if (event.type === 'delete') {
      const uid = event.object.metadata?.uid ?? '';
      this.#known.delete(uid);
      this.#store.forget(event.key);
      // A deleted event is no longer firing anywhere: no group notifies or repeats it.
      for (const groupKey of this.#groupsOfEvent.get(event.key) ?? []) {
        const entry = this.#groups.get(groupKey);
        if (!entry) continue;
        entry.group.remove(event.key);
        this.#schedule(entry);
      }
      this.#groupsOfEvent.delete(event.key);
      return;
    }
    this.#observe(event.object);
  }

  /**
   * Takes on an AlarmEvent once: finished ones only inform grouping; the rest are dispatched. Later, only
   * a new generation of a finished event is looked at again: resolved since, it is re-opened.
   */
  #observe(raw: Readonly<CustomObject>): void {
    const uid = raw.metadata?.uid ?? '';
    const known = this.#known.get(uid);
    const generation = raw.metadata?.generation;
    if (known && (known.active || known.generation === generation)) return;
    let event: AlarmEvent;
    try {
      event = parseAlarmEvent(raw);
    } catch (err) {
      this.#log.warn({ err }, 'ignoring an invalid AlarmEvent');
      this.#known.set(uid, { active: false, generation });
      return;
    }
    const alarm = toAlarm(event);
    // The ledger this run keeps is newer than the cached status until written (if it is this object's).
    const status = this.#store.get(alarm.key, uid) ?? event.status ?? {};
    const intake = intakeOf({ generation, state: event.spec.state, status });
    // Finished in this run, but the cached status is not there yet: the status write's update comes next.
    if (known && intake === 'dispatch') return;
    if (intake === 'finished') {
      this.#known.set(uid, { active: false, generation });
      if (!known) this.#restoreFinished(alarm, status);
      return;
    }
    this.#known.set(uid, { active: true, generation });
    const { resourceVersion } = raw.metadata ?? {};
    const metadata = { name: alarm.name, namespace: alarm.namespace, uid, resourceVersion, generation };
    this.#store.track(alarm.key, metadata, status);
    if (intake === 'reopen') this.#reopen(alarm, generation);
    else this.#dispatch(alarm, generation);
  }

  /** A finished event resolved since: its firing deliveries start afresh for the resolved notification. */
  #reopen(alarm: Alarm, generation: number | undefined): void {
    const planned = new Set<string>();
    for (const rule of this.#matchingRules(alarm)) {
      for (const target of this.#plan(rule)) {
        for (const name of targetNames(target)) {
          planned.add(
            deliveryKey({
              ruleNamespace: rule.namespace,
              rule: rule.name,
              service: target.service,
              targetKind: target.kind,
              targetName: name,
            }),
          );
        }
      }
    }
    let reopened = 0;
    this.#ledger.update(alarm, (status) => {
      reopened = reopenForResolved(status, (id) => planned.has(deliveryKey(id)), generation, new Date());
    });
    this.#log.info(
      { alarmEvent: alarm.key, reopened },
      'alarm resolved; re-opened for the resolved notification',
    );
    if (reopened > 0) this.#dispatch(alarm, generation, { existingOnly: true });
  }

  /**
   * Records what each matching rule and target does with the alarm and groups what is to be sent.
   * `existingOnly`: only targets already in the ledger (a resolved notification goes where the firing one went).
   */
  #dispatch(alarm: Alarm, generation: number | undefined, { existingOnly = false } = {}): void {
    const now = Date.now();
    const rules = this.#matchingRules(alarm);
    const toGroup: CompiledRule[] = [];
    this.#ledger.update(alarm, (status) => {
      status.deliveries ??= [];
      if (alarm.spec.state === 'resolved') markResolved(status, generation, new Date(now));
      for (const rule of rules) {
        const fresh = !status.deliveries.some((d) => byRule(d, rule.namespace, rule.name));
        if (fresh) this.#health.rule(rule.namespace, rule.name, { matched: 1 });
        const verdict = rule.rule.spec.suspend
          ? 'Suspended'
          : windowVerdict(rule.rule.spec.timeWindows, new Date(now));
        let grouped = false;
        for (const target of this.#plan(rule)) {
          for (const name of targetNames(target)) {
            const id: DeliveryId = {
              ruleNamespace: rule.namespace,
              rule: rule.name,
              service: target.service,
              targetKind: target.kind,
              targetName: name,
            };
            const existing = findDelivery(status, id);
            if (existing && isFinal(existing)) continue;
            if (!existing && existingOnly) continue;
            if (existing?.msgUuid) {
              this.#pin(existing, rule, target, alarm);
              continue;
            }
            if (target.problem) {
              upsertDelivery(status, id, {
                state: 'Failed',
                reason: target.problem.reason,
                lastError: target.problem.message,
              });
              this.#health.rule(rule.namespace, rule.name, { failed: 1 });
            } else if (verdict !== 'Send') {
              upsertDelivery(status, id, { state: 'Suppressed', reason: verdict });
              this.#health.serviceSuppressed(rule.namespace, target.service);
              if (fresh) this.#health.rule(rule.namespace, rule.name, { suppressed: 1 });
            } else {
              upsertDelivery(status, id, { state: 'Pending' });
              grouped = true;
            }
          }
        }
        if (grouped) toGroup.push(rule);
      }
    });
    for (const rule of toGroup) this.#addToGroup(rule, alarm, now);
  }

  #matchingRules(alarm: Alarm): CompiledRule[] {
    const matching: CompiledRule[] = [];
    // A rule sees the alarms of its own namespace only: other tenants' rules are not even compiled.
    for (const raw of this.#ctx.caches.rules.list(alarm.namespace)) {
      const compiled = this.#rules.compile(raw);
      // An invalid rule (its status says why) takes no new alarms.
      if (!compiled.ok || !compiled.rule.timeZoneValid) continue;
      const { rule } = compiled;
      if (matchesRule(rule.rule.spec.match, rule.namespace, alarm)) matching.push(rule);
    }
    return matching;
  }

  #plan(rule: CompiledRule): PlannedTarget[] {
    return planTargets(
      rule.namespace,
      rule.rule.spec.services,
      { service: (ns, name) => this.#ctx.caches.services.get(ns, name) },
      cacheReader(this.#ctx.caches),
    );
  }

  #addToGroup(rule: CompiledRule, alarm: Alarm, now: number): void {
    const entry = this.#groupFor(rule, alarm);
    const { quiet } = entry.group.add(alarm, now);
    this.#quiet(rule, quiet);
    this.#schedule(entry);
  }

  #groupFor(rule: CompiledRule, alarm: Alarm): GroupEntry {
    const labels = groupLabelsOf(alarm, rule.rule.spec.grouping.groupBy);
    const key = `${rule.key}\u0000${JSON.stringify(labels)}`;
    let entry = this.#groups.get(key);
    if (!entry) {
      entry = { group: new AggregationGroup(key, labels, rule.timing), rule };
      this.#groups.set(key, entry);
    }
    const groups = this.#groupsOfEvent.get(alarm.key) ?? new Set();
    groups.add(key);
    this.#groupsOfEvent.set(alarm.key, groups);
    return entry;
  }

  /** Alarms a group will not notify: their pending deliveries for the rule are Suppressed, with why. */
  #quiet(rule: CompiledRule, quiet: { alarm: Alarm; reason: QuietReason | 'RuleDeleted' }[]): void {
    for (const { alarm, reason } of quiet) {
      this.#ledger.update(alarm, (status) => {
        for (const d of status.deliveries ?? []) {
          if (byRule(d, rule.namespace, rule.name) && !isFinal(d) && !d.msgUuid)
            Object.assign(d, { state: 'Suppressed', reason });
        }
      });
    }
  }

  #schedule(entry: GroupEntry): void {
    clearTimeout(entry.timer);
    const due = entry.group.nextFlushAt;
    if (this.#stopped) return;
    if (due === undefined) {
      if (entry.group.idle) this.#groups.delete(entry.group.key);
      return;
    }
    entry.timer = setTimeout(() => this.#flush(entry), Math.max(0, due - Date.now()));
  }

  /**
   * A deleted rule's groups go with it: nothing of it is notified or repeated any more, and what waited
   * for its first notification is recorded Suppressed (RuleDeleted), so those events can finish.
   */
  #onRuleDeleted(key: string): void {
    this.#rules.forget(key);
    for (const entry of [...this.#groups.values()]) {
      if (entry.rule.key !== key) continue;
      clearTimeout(entry.timer);
      this.#groups.delete(entry.group.key);
      this.#quiet(
        entry.rule,
        entry.group.pending.map((alarm) => ({ alarm, reason: 'RuleDeleted' as const })),
      );
    }
  }

  #flush(entry: GroupEntry): void {
    const current = this.#ctx.caches.rules.get(entry.rule.namespace, entry.rule.name);
    if (!current) {
      this.#onRuleDeleted(entry.rule.key);
      return;
    }
    const compiled = current ? this.#rules.compile(current) : undefined;
    if (compiled?.ok) {
      entry.rule = compiled.rule;
      entry.group.timing = compiled.rule.timing;
    }
    const now = Date.now();
    const flush = entry.group.flush(now);
    if (flush) this.#notify(entry, flush.alarms, flush.repeat, now);
    this.#schedule(entry);
  }

  /** Turns a group's flush into one notification per target, queued in the target's outbox. */
  #notify(entry: GroupEntry, alarms: Alarm[], repeat: boolean, now: number): void {
    const { rule } = entry;
    const verdict = rule.rule.spec.suspend
      ? 'Suspended'
      : windowVerdict(rule.rule.spec.timeWindows, new Date(now));
    for (const target of this.#plan(rule)) {
      const names = targetNames(target);
      const open = repeat
        ? alarms
        : alarms.filter((alarm) => {
            const status = this.#store.get(alarm.key, alarm.uid);
            return names.some((name) => {
              const d =
                status &&
                findDelivery(status, {
                  ruleNamespace: rule.namespace,
                  rule: rule.name,
                  service: target.service,
                  targetKind: target.kind,
                  targetName: name,
                });
              return d !== undefined && !isFinal(d) && !d.msgUuid;
            });
          });
      if (open.length === 0) continue;
      if (target.problem || verdict !== 'Send') {
        if (repeat) continue;
        const change: Partial<Delivery> = target.problem
          ? { state: 'Failed', reason: target.problem.reason, lastError: target.problem.message }
          : { state: 'Suppressed', reason: verdict };
        for (const alarm of open)
          this.#ledger.updateTarget(alarm, rule, target.service, target.kind, names, change);
        continue;
      }
      const ref = targetRef(target);
      const notification: Notification = {
        rule: {
          namespace: rule.namespace,
          name: rule.name,
          description: rule.rule.spec.description,
          mentions: rule.rule.spec.message.mentions,
        },
        templates: rule.templates,
        target: ref,
        groupLabels: entry.group.labels as Record<string, string>,
        alarms: open,
        repeat,
      };
      const held = this.#held.of(rule.namespace, ref);
      // Sending to a target DingTalk refuses would only spend the robot's budget: it joins the held ones.
      if (held) this.#ledger.holdMore(held, notification, now);
      else this.#outboxFor(rule, target).enqueue(notification);
    }
  }

  /**
   * The queue of the target's robot: one per group robot, whichever tenants and services send to it
   * (DingTalk's rate limit is per robot), one per tenant's member set. Each notification is sent with
   * the credentials of its own tenant's target, the newest ones known (a rotated Secret applies to the
   * next attempt).
   */
  #outboxFor(rule: CompiledRule, target: PlannedTarget): Outbox {
    const key =
      target.kind === 'Group'
        ? groupOutboxKey(target.group?.webhook ?? '')
        : memberOutboxKey(rule.namespace, target.service, digest(target.identities.join(',')));
    this.#sender.remember(rule.namespace, target);
    let outbox = this.#outboxes.get(key);
    if (!outbox) {
      const budget =
        target.kind === 'Group'
          ? this.#robotBudgets.forRobot(target.group?.webhook ?? '', target.group?.rateLimitPerMinute)
          : this.#appBudget(target.app?.clientId ?? '');
      outbox = new Outbox({
        name: key,
        budget,
        blockMs: this.#blockMs,
        logger: this.#log,
        outcomes: this.#ledger,
        senderOf,
        send: (message) => this.#sender.send(message),
      });
      this.#outboxes.set(key, outbox);
      outbox.start();
    }
    this.#countRecentSends(rule.namespace, target, outbox);
    return outbox;
  }

  /**
   * One budget per app, shared by every member set that sends through it: each batchSend call takes a
   * slot, within DingTalk's documented 20 calls per second per app and API.
   */
  #appBudget(clientId: string): RateBudget {
    let budget = this.#appBudgets.get(clientId);
    if (!budget) {
      budget = new RateBudget({ limit: APP_CALLS_PER_SECOND, windowMs: 1_000, marginMs: 100 });
      this.#appBudgets.set(clientId, budget);
    }
    return budget;
  }

  /** Once for a burst of changes (a GitOps sync touches many objects at once). */
  #followConfigurationSoon(): void {
    if (this.#configurationDue) return;
    this.#configurationDue = true;
    setImmediate(() => {
      this.#configurationDue = false;
      if (!this.#stopped) this.#followConfiguration();
    });
  }

  /**
   * Brings what dispatch keeps per configuration in line with the configuration as it is now: each
   * robot's budget takes the lowest limit among the groups sending through it, and the queues, budgets,
   * credentials and health of robots and services no longer configured (deleted, or re-created) go once
   * nothing is queued for them.
   */
  #followConfiguration(): void {
    const { caches } = this.#ctx;
    const usage = configurationUsage(caches.services.list(), cacheReader(caches));
    for (const [key, outbox] of this.#outboxes) {
      if (!outbox.idle || outboxInUse(key, usage)) continue;
      this.#outboxes.delete(key);
      void outbox.stop();
    }
    const outboxes = [...this.#outboxes.values()];
    const queuedRobots = [...this.#outboxes.keys()].map(robotOfOutbox).filter((k) => k !== undefined);
    this.#robotBudgets.configure(usage.robots, Date.now(), new Set(queuedRobots));
    for (const [clientId, budget] of this.#appBudgets) {
      if (!usage.apps.has(clientId) && !outboxes.some((o) => o.budget === budget))
        this.#appBudgets.delete(clientId);
    }
    const queued = new Set(outboxes.flatMap((o) => [...o.senders()]));
    this.#sender.prune((namespace, service) => usage.services.has(`${namespace}/${service}`), queued);
    this.#health.prune();
  }

  /**
   * Releases held targets whose configuration changed (they are sent again, once, under their msgUuid)
   * and records those held past --max-hold-age Failed.
   */
  #recheckHeld(namespace?: string): void {
    if (this.#stopped) return;
    const now = Date.now();
    for (const held of this.#held.list(namespace)) {
      if (now - held.since >= this.#ctx.config.maxHoldAge) {
        this.#held.remove(held);
        this.#ledger.expired(held, this.#ctx.config.maxHoldAge, now);
        continue;
      }
      if (!this.#held.changed(held)) continue;
      this.#held.remove(held);
      this.#release(held);
    }
  }

  /** Sends a held target's alarms again, once, under their msgUuids. */
  #release(held: HeldEntry): void {
    let released = 0;
    for (const [msgUuid, notifications] of held.messages) {
      const [first] = notifications;
      const raw = first && this.#ctx.caches.rules.get(first.rule.namespace, first.rule.name);
      const compiled = raw ? this.#rules.compile(raw) : undefined;
      const target =
        compiled?.ok &&
        this.#plan(compiled.rule).find(
          (t) =>
            t.service === held.ref.service &&
            t.kind === held.ref.kind &&
            (t.kind === 'Member' || t.name === held.ref.name) &&
            !t.problem,
        );
      if (!compiled?.ok || !target) {
        // The rule or target went meanwhile: nothing to send these with.
        for (const n of notifications) {
          for (const alarm of n.alarms)
            this.#ledger.updateTarget(alarm, n.rule, n.target.service, n.target.kind, n.target.names, {
              state: 'Failed',
              reason: compiled?.ok
                ? DingTalkConditionReason.TargetNotFound
                : DingTalkConditionReason.RuleDeleted,
            });
        }
        continue;
      }
      this.#outboxFor(compiled.rule, target).restore(msgUuid, notifications, this.#progressOf(notifications));
      released++;
    }
    this.#log.info(
      { namespace: held.namespace, service: held.ref.service, target: held.ref.name, released },
      'configuration changed; held alarms released',
    );
  }

  /**
   * An event's deliveries are all finished: it is no longer in progress; resolved while its firing
   * notification was under way, the resolved one follows now.
   */
  #finished(key: string): void {
    const raw = this.#ctx.caches.alarms.getByKey(key);
    const known = raw?.metadata?.uid ? this.#known.get(raw.metadata.uid) : undefined;
    if (!raw || !known?.active) return;
    known.active = false;
    if (known.generation !== raw.metadata?.generation) queueMicrotask(() => this.#observe(raw));
  }

  /** A finished event from before this run: it still tells groups which alarms were notified. */
  #restoreFinished(alarm: Alarm, status: AlarmEventStatus): void {
    const now = Date.now();
    for (const d of status.deliveries ?? []) {
      if (d.msgUuid && d.lastAttemptAt && now - Date.parse(d.lastAttemptAt) < this.#rateWindowMs) {
        this.#rememberSend(alarm.namespace, d);
      }
    }
    const notified = (status.deliveries ?? []).filter((d) => d.state === 'Delivered');
    for (const raw of this.#ctx.caches.rules.list(alarm.namespace)) {
      if (!notified.some((d) => byRule(d, alarm.namespace, raw.metadata?.name ?? ''))) continue;
      const compiled = this.#rules.compile(raw);
      if (!compiled.ok) continue;
      const at = Math.max(
        ...notified
          .filter((d) => byRule(d, compiled.rule.namespace, compiled.rule.name))
          .map((d) => Date.parse(d.deliveredAt ?? '') || 0),
      );
      const entry = this.#groupFor(compiled.rule, alarm);
      entry.group.restoreNotified(alarm, at);
      this.#schedule(entry);
    }
  }

  #pin(delivery: Delivery, rule: CompiledRule, target: PlannedTarget, alarm: Alarm): void {
    const msgUuid = delivery.msgUuid as string;
    if (!delivery.lastAttemptAt || Date.now() - Date.parse(delivery.lastAttemptAt) < this.#rateWindowMs) {
      this.#rememberSend(alarm.namespace, delivery);
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

  #restorePinned(): void {
    for (const [msgUuid, parts] of this.#pinned) {
      const [first] = parts;
      if (!first || first.target.problem) continue;
      const notifications: Notification[] = parts.map((part) => ({
        rule: {
          namespace: part.rule.namespace,
          name: part.rule.name,
          description: part.rule.rule.spec.description,
          mentions: part.rule.rule.spec.message.mentions,
        },
        templates: part.rule.templates,
        target: targetRef(part.target),
        groupLabels: groupLabelsOf(part.alarms[0] as Alarm, part.rule.rule.spec.grouping.groupBy),
        alarms: part.alarms,
        repeat: false,
      }));
      this.#outboxFor(first.rule, first.target).restore(
        msgUuid,
        notifications,
        this.#progressOf(notifications),
      );
    }
  }

  /** For members: how far the message had come, from the ledger, so no chunk DingTalk answered goes again. */
  #progressOf(notifications: readonly Notification[]): MemberProgress | undefined {
    const [first] = notifications;
    const alarm = first?.alarms[0];
    if (!first || !alarm || first.target.kind !== 'Member') return undefined;
    const record = this.#store.get(alarm.key, alarm.uid)?.deliveries?.find((d) =>
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

  #rememberSend(namespace: string, d: Delivery): void {
    const key = `${namespace}/${d.service}/${d.targetKind}/${d.targetKind === 'Group' ? d.targetName : 'members'}`;
    const sends = this.#recentSends.get(key) ?? new Set();
    sends.add(d.msgUuid as string);
    this.#recentSends.set(key, sends);
  }

  /**
   * Sends the previous run made in the last window count against the robot's budget, as if made just
   * now: DingTalk received them no later than that, so the budget cannot overshoot.
   */
  #countRecentSends(namespace: string, target: PlannedTarget, outbox: Outbox): void {
    const key = `${namespace}/${target.service}/${target.kind}/${target.kind === 'Group' ? target.name : 'members'}`;
    const sends = this.#recentSends.get(key);
    if (!sends) return;
    this.#recentSends.delete(key);
    const now = Date.now();
    for (let i = 0; i < sends.size; i++) outbox.budget.record(now);
  }
}

function byCreation(a: Readonly<CustomObject>, b: Readonly<CustomObject>): number {
  const at = (o: Readonly<CustomObject>) => new Date(o.metadata?.creationTimestamp ?? 0).getTime();
  return at(a) - at(b);
}

function deliveryKey({ ruleNamespace, rule, service, targetKind, targetName }: DeliveryId): string {
  return JSON.stringify([ruleNamespace, rule, service, targetKind, targetName]);
}
