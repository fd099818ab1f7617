import type { Logger } from 'pino';
import { type AlarmEvent, type AlarmEventStatus, type Delivery, parseAlarmEvent } from '../api/index.ts';
import { RobotBudgets } from '../delivery/robot-budgets.ts';
import { type Component, type CustomObject, cachesSynced, type OperatorContext } from '../manager/context.ts';
import { QuotaGate } from '../quota/gate.ts';
import { QuotaWriter } from '../quota/quota-writer.ts';
import { type CompiledRule, RuleBook } from '../rules/rule-book.ts';
import { CONFIGURATION_BURST_MS, Coalesced } from '../runtime/coalesced.ts';
import { type InformerEvent, specChanged } from '../runtime/informer.ts';
import { systemClock } from '../runtime/timers.ts';
import { acknowledgementOf, repeatsPaused } from './acknowledgement.ts';
import type { QuietReason } from './aggregation.ts';
import { type Alarm, resolvedByPerson, toAlarm } from './alarm.ts';
import { DeliveryHealth } from './delivery-health.ts';
import { deliveryKey, lastNotifiedAt } from './desired.ts';
import { Escalator } from './escalator.ts';
import { EventStatusStore } from './event-status.ts';
import { type GroupEntry, Groups } from './groups.ts';
import { HeldAlarms } from './held-alarms.ts';
import { HeldRelease } from './held-release.ts';
import { byRule, isFinal } from './ledger.ts';
import { LedgerRecorder } from './ledger-recorder.ts';
import { matchesRule } from './match.ts';
import { Notifier } from './notifier.ts';
import { Outboxes } from './outboxes.ts';
import { Planner } from './planner.ts';
import { Replanner } from './replanner.ts';
import { intakeOf, intakeVersion, markResolved, reopenForResolved } from './resolution.ts';
import { Resumption } from './resumption.ts';

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

const MINUTE = 60_000;

/**
 * The dispatch pipeline, one way: intake (AlarmEvent → alarm) → matching (rules of the alarm's own
 * namespace) → aggregation group (Alertmanager timers; groups.ts) → notifier (notifier.ts) → per-robot
 * outbox (rate budget, digests, retries; outboxes.ts) → outcomes → the LedgerRecorder, the one writer of
 * the ledger (AlarmEvent status) and of delivery health. The dispatcher wires these stages.
 *
 * Level-triggered: what each event should get is computed from the rules and services as they are now
 * and set against its ledger (desired.ts), at intake and again whenever a rule, service or ConfigMap of
 * its namespace changes. A start or a takeover is the same reconcile of every event: what was underway
 * goes again under its msgUuid, repeats are due from the recorded times, and recent sends count
 * against each robot's budget.
 */
export class Dispatcher implements Component {
  readonly name = 'dispatch';
  readonly #ctx: OperatorContext;
  readonly #log: Logger;
  readonly #rateWindowMs: number;
  readonly #rules = new RuleBook();
  readonly #store: EventStatusStore;
  readonly #health: DeliveryHealth;
  readonly #quotaWriter: QuotaWriter;
  readonly #quotaGate: QuotaGate;
  readonly #held: HeldAlarms;
  readonly #ledger: LedgerRecorder;
  readonly #groups: Groups;
  readonly #outboxes: Outboxes;
  readonly #notifier: Notifier;
  readonly #release: HeldRelease;
  readonly #planner: Planner;
  readonly #replanner: Replanner;
  readonly #resumption: Resumption;
  readonly #escalator: Escalator;
  readonly #statusOf = (alarm: Alarm) => this.#store.get(alarm.key, alarm.uid);
  /**
   * Events this run has taken on, by uid: still in progress, and the generation last looked at. Informer
   * updates are not re-dispatched; a new generation of a finished event may re-open it (resolution.ts).
   */
  readonly #known = new Map<string, { active: boolean; version: string }>();
  /** Events in progress, by namespace and key: what a change of configuration re-plans. */
  readonly #inProgress = new Map<string, Map<string, Alarm>>();
  readonly #heldCheckIntervalMs: number;
  readonly #configurationIntervalMs: number;
  readonly #timers: NodeJS.Timeout[] = [];
  /** Budgets, queues, credentials and health follow the configuration once per burst of changes. */
  readonly #followConfiguration = new Coalesced(() => this.#outboxes.follow(), CONFIGURATION_BURST_MS);
  readonly #unsubscribe: (() => void)[] = [];
  #started = false;
  #stopped = false;

  constructor(ctx: OperatorContext, options: DispatcherOptions = {}) {
    this.#ctx = ctx;
    this.#log = ctx.logger.child({ component: 'dispatch' });
    this.#rateWindowMs = options.rateWindowMs ?? MINUTE;
    this.#heldCheckIntervalMs = options.heldCheckIntervalMs ?? 10_000;
    this.#configurationIntervalMs = options.configurationIntervalMs ?? MINUTE;
    this.#store = new EventStatusStore({
      writer: ctx.status.alarms,
      logger: this.#log,
      concurrency: options.statusConcurrency ?? 8,
    });
    ctx.metrics.observeStatusUnwritten(() => this.#store.unwritten);
    this.#health = new DeliveryHealth(
      ctx.kube,
      {
        service: (ns, name) => ctx.caches.services.get(ns, name),
        rule: (ns, name) => ctx.caches.rules.get(ns, name),
      },
      this.#log,
      { intervalMs: options.healthIntervalMs },
    );
    const quotaWriteMs = ctx.config.quotaWriteInterval;
    this.#quotaWriter = new QuotaWriter(ctx.kube, ctx.quota, this.#log, quotaWriteMs, systemClock);
    this.#quotaGate = new QuotaGate(ctx.quota, (ns, name) => ctx.caches.services.get(ns, name));
    this.#held = new HeldAlarms(ctx.held, ctx.caches);
    this.#ledger = new LedgerRecorder({
      store: this.#store,
      health: this.#health,
      held: this.#held,
      logger: this.#log,
      onFinished: (key) => this.#finished(key),
      retrack: (alarm) => this.#store.trackAgain(alarm.key, alarm.uid, ctx.caches.alarms.getByKey(alarm.key)),
    });
    this.#resumption = new Resumption(this.#rateWindowMs);
    this.#escalator = new Escalator({
      ctx,
      rules: this.#rules,
      outboxes: () => this.#outboxes,
      logger: this.#log,
    });
    this.#outboxes = new Outboxes({
      ctx,
      // A shorter rate window (tests) needs budgets of its own; otherwise the ones test messages share.
      robotBudgets:
        this.#rateWindowMs === MINUTE
          ? ctx.robotBudgets
          : new RobotBudgets({ limit: ctx.config.robotRateLimit, windowMs: this.#rateWindowMs }),
      blockMs: options.blockMs ?? 10 * MINUTE,
      // Escalation steps' messages are the escalation ledger's; every other message is the delivery ledger's.
      outcomes: this.#escalator.besides(this.#ledger),
      resumption: this.#resumption,
      health: this.#health,
      logger: this.#log,
    });
    this.#planner = new Planner(ctx.caches, this.#rules, this.#health);
    const plan = (rule: CompiledRule) => this.#planner.plan(rule);
    this.#notifier = new Notifier({
      plan,
      statusOf: this.#statusOf,
      held: this.#held,
      ledger: this.#ledger,
      outboxes: this.#outboxes,
      quota: this.#quotaGate,
    });
    this.#release = new HeldRelease({
      ctx,
      rules: this.#rules,
      plan,
      held: this.#held,
      ledger: this.#ledger,
      outboxes: this.#outboxes,
      statusOf: this.#statusOf,
      replan: (namespace) => this.#replanner.soon(namespace),
      logger: this.#log,
    });
    this.#groups = new Groups((entry) => this.#flush(entry));
    this.#replanner = new Replanner({
      planner: this.#planner,
      store: this.#store,
      ledger: this.#ledger,
      groups: this.#groups,
      notifier: this.#notifier,
      quiet: (rule, quiet) => this.#quiet(rule, quiet),
      inProgress: (namespace) => this.#inProgress.get(namespace)?.values() ?? [],
    });
  }

  async start(signal: AbortSignal): Promise<void> {
    const { caches } = this.#ctx;
    await cachesSynced(
      [caches.alarms, caches.rules, caches.services, caches.secrets, caches.configMaps],
      signal,
    );
    // Stopped while waiting (shutdown stops components before it aborts the signal): start nothing.
    if (signal.aborted || this.#stopped) return;
    for (const informer of caches.alarms.informers) {
      this.#unsubscribe.push(informer.onEvent((event) => this.#onAlarmEvent(event)));
    }
    for (const cache of [caches.services, caches.secrets, caches.configMaps]) {
      for (const informer of cache.informers) {
        this.#unsubscribe.push(
          informer.onEvent((event) => {
            // A change of configuration in a namespace may release its held alarms.
            if (this.#held.size > 0) this.#release.recheck(event.namespace);
            // What the configuration sends through is in specs and Secrets: a service's status written
            // (Ready, delivery health, usage: a thousand of them at start) changes none of it.
            if (!specChanged(event)) return;
            this.#followConfiguration.request();
            if (cache !== caches.secrets) this.#replanner.soon(event.namespace);
          }),
        );
      }
    }
    for (const informer of caches.rules.informers) {
      this.#unsubscribe.push(
        informer.onEvent((event) => {
          if (event.type === 'delete') this.#onRuleDeleted(event.key);
          if (event.type === 'add') this.#rematch(event.object);
          if (specChanged(event)) this.#replanner.soon(event.namespace);
        }),
      );
    }
    const existing = [...caches.alarms.list()].sort(byCreation);
    for (const raw of existing) this.#observe(raw);
    const resent = this.#outboxes.resume(this.#resumption.takePinned(), this.#statusOf);
    this.#started = true;
    this.#health.start();
    this.#quotaWriter.start();
    this.#escalator.start();
    const every = (ms: number, run: () => void) => {
      const timer = setInterval(run, ms);
      timer.unref();
      this.#timers.push(timer);
    };
    every(this.#heldCheckIntervalMs, () => this.#release.recheck());
    this.#outboxes.follow();
    every(this.#configurationIntervalMs, () => this.#outboxes.follow());
    this.#log.info({ alarmEvents: existing.length, resent }, 'dispatch started');
    // Sends of the previous leader count against a robot's budget for one window after start, whenever
    // its outbox is first needed; later they no longer matter.
    setTimeout(() => this.#resumption.forgetRecentSends(), this.#rateWindowMs).unref();
  }

  async stop(graceMs: number): Promise<void> {
    this.#stopped = true;
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    this.#escalator.stop();
    this.#groups.stop();
    this.#release.stop();
    this.#replanner.stop();
    this.#followConfiguration.stop();
    for (const timer of this.#timers) clearInterval(timer);
    const started = Date.now();
    await Promise.race([this.#outboxes.stop(), new Promise((resolve) => setTimeout(resolve, graceMs))]);
    await this.#store.drain(Math.max(0, graceMs - (Date.now() - started)));
    await Promise.all([this.#health.stop(), this.#quotaWriter.stop()]);
  }

  #onAlarmEvent(event: InformerEvent<CustomObject>): void {
    if (this.#stopped) return;
    if (event.type !== 'delete') {
      this.#observe(event.object);
      return;
    }
    this.#known.delete(event.object.metadata?.uid ?? '');
    this.#leaveProgress(event.namespace, event.key);
    this.#store.forget(event.key);
    this.#groups.removeEvent(event.key);
  }

  /**
   * Takes on an AlarmEvent once: finished ones only inform grouping; the rest are dispatched. Later, only
   * a new generation of a finished event is looked at again: resolved since, it is re-opened.
   */
  #observe(raw: Readonly<CustomObject>, { rematched = false } = {}): void {
    const uid = raw.metadata?.uid ?? '';
    const known = this.#known.get(uid);
    const generation = raw.metadata?.generation;
    const version = intakeVersion(raw);
    if (known && (known.active || known.version === version)) return;
    let event: AlarmEvent;
    try {
      event = parseAlarmEvent(raw);
    } catch (err) {
      this.#log.warn({ err }, 'ignoring an invalid AlarmEvent');
      this.#known.set(uid, { active: false, version });
      return;
    }
    const alarm = toAlarm(event);
    // The ledger this run keeps is newer than the cached status until written (if it is this object's).
    const status = this.#store.get(alarm.key, uid) ?? event.status ?? {};
    // Found to match no rule, and a rule older than it seen since (#rematch): not finished after all.
    const intake = rematched
      ? 'dispatch'
      : intakeOf({ generation, state: alarm.spec.state, status, resolvedByPerson: resolvedByPerson(event) });
    // Finished in this run, but the cached status is not there yet: the status write's update comes next.
    if (known && intake === 'dispatch') return;
    if (intake === 'finished') {
      this.#known.set(uid, { active: false, version });
      if (!known) this.#restoreFinished(alarm, status);
      return;
    }
    this.#known.set(uid, { active: true, version });
    const inNamespace = this.#inProgress.get(alarm.namespace) ?? new Map<string, Alarm>();
    this.#inProgress.set(alarm.namespace, inNamespace.set(alarm.key, alarm));
    const { resourceVersion } = raw.metadata ?? {};
    const metadata = { name: alarm.name, namespace: alarm.namespace, uid, resourceVersion, generation };
    const tracked = this.#store.track(alarm.key, metadata, status);
    if (rematched) delete tracked.finishedAt;
    if (intake === 'reopen') this.#reopen(alarm, generation);
    else this.#dispatch(alarm, generation);
    // Seen after start (a relist, or a takeover's first events): what it had underway goes again now.
    if (this.#started && this.#resumption.pinned > 0)
      queueMicrotask(() => this.#outboxes.resume(this.#resumption.takePinned(), this.#statusOf));
  }

  /**
   * A rule seen now may be older than alarms found to match no rule: their watch ran ahead of the rules'
   * (or the rules' was listing again). Those the rule matches, still firing, are dispatched as they would
   * have been had the rule been seen first. Alarms created before the rule keep NoMatchingRule: a new rule
   * is not a reason to send old alarms.
   */
  #rematch(rawRule: Readonly<CustomObject>): void {
    const { namespace = '', creationTimestamp } = rawRule.metadata ?? {};
    const since = Date.parse(String(creationTimestamp));
    const compiled = this.#rules.compile(rawRule);
    if (Number.isNaN(since) || !compiled.ok || !compiled.rule.timeZoneValid) return;
    for (const raw of this.#ctx.caches.alarms.list(namespace)) {
      const uid = raw.metadata?.uid ?? '';
      if (this.#known.get(uid)?.active !== false) continue;
      if (!(Date.parse(String(raw.metadata?.creationTimestamp)) >= since)) continue;
      const key = `${namespace}/${raw.metadata?.name}`;
      const status = this.#store.get(key, uid) ?? (raw.status as AlarmEventStatus | undefined);
      if (status?.phase !== 'NoMatchingRule') continue;
      let alarm: Alarm;
      try {
        alarm = toAlarm(parseAlarmEvent(raw));
      } catch {
        continue;
      }
      if (alarm.spec.state === 'resolved' || !matchesRule(compiled.rule.rule.spec.match, namespace, alarm))
        continue;
      this.#log.info(
        { alarmEvent: key, rule: compiled.rule.key },
        'alarm matched again: it was seen before a rule older than it',
      );
      this.#known.delete(uid);
      this.#observe(raw, { rematched: true });
    }
  }

  /** A finished event resolved since: its firing deliveries start afresh for the resolved notification. */
  #reopen(alarm: Alarm, generation: number | undefined): void {
    const planned = new Set(this.#planner.wanted(alarm).map((w) => deliveryKey(w.id)));
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
   * Sets what the rules and services want for the alarm now against its ledger: entries no longer wanted
   * are finished with why, underway ones go again under their msgUuid, the rest are grouped.
   * `existingOnly`: only targets already in the ledger (a resolved notification goes where the firing one went).
   */
  #dispatch(alarm: Alarm, generation: number | undefined, { existingOnly = false } = {}): void {
    const now = Date.now();
    const toGroup = new Set<CompiledRule>();
    this.#ledger.update(alarm, (status) => {
      status.deliveries ??= [];
      if (alarm.spec.state === 'resolved') markResolved(status, generation, new Date(now));
      const diff = this.#planner.diff(status, alarm);
      for (const w of diff.underway) this.#resumption.pin(w.delivery, w.rule, w.target, alarm, now);
      for (const { delivery, reason } of diff.unwanted)
        Object.assign(delivery, { state: 'Suppressed', reason });
      for (const w of existingOnly ? diff.waiting : [...diff.waiting, ...diff.added]) {
        if (this.#planner.admit(status, w, now)) toGroup.add(w.rule);
      }
    });
    for (const rule of toGroup) this.#quiet(rule, this.#groups.add(rule, alarm, now));
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

  /**
   * A deleted rule's groups go with it: nothing of it is notified or repeated any more, and what waited
   * for its first notification is recorded Suppressed (RuleDeleted), so those events can finish.
   */
  #onRuleDeleted(key: string): void {
    this.#rules.forget(key);
    for (const entry of this.#groups.dropRule(key)) {
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
    const compiled = this.#rules.compile(current);
    if (compiled.ok) {
      entry.rule = compiled.rule;
      entry.group.timing = this.#quotaGate.timing(compiled.rule, () => this.#planner.plan(compiled.rule));
    }
    const now = Date.now();
    const flush = entry.group.flush(now);
    // Acknowledged, snoozed or resolved by a person (status, as cached): not repeated, for now or for good.
    const ackOf = (alarm: Alarm) => acknowledgementOf(this.#ctx.caches.alarms.getByKey(alarm.key), alarm.uid);
    const alarms = flush?.alarms.filter((a) => !flush.repeat || !repeatsPaused(ackOf(a), now)) ?? [];
    if (flush && alarms.length > 0) this.#notifier.notify(entry, alarms, flush.repeat, now);
    this.#groups.schedule(entry);
  }

  /** The event is no longer in progress; a namespace with none left is forgotten (namespaces come and go). */
  #leaveProgress(namespace: string, key: string): void {
    const events = this.#inProgress.get(namespace);
    events?.delete(key);
    if (events?.size === 0) this.#inProgress.delete(namespace);
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
    this.#leaveProgress(raw.metadata?.namespace ?? '', key);
    if (known.version !== intakeVersion(raw)) queueMicrotask(() => this.#observe(raw));
  }

  /**
   * A finished event from before this run: it tells groups which alarms were notified and when last,
   * so repeats are due from the recorded time.
   */
  #restoreFinished(alarm: Alarm, status: AlarmEventStatus): void {
    const now = Date.now();
    for (const d of status.deliveries ?? []) this.#resumption.rememberFinished(alarm.namespace, d, now);
    const notified = (status.deliveries ?? []).filter((d: Delivery) => d.state === 'Delivered');
    for (const raw of this.#ctx.caches.rules.list(alarm.namespace)) {
      if (!notified.some((d) => byRule(d, alarm.namespace, raw.metadata?.name ?? ''))) continue;
      const compiled = this.#rules.compile(raw);
      if (!compiled.ok) continue;
      const entry = this.#groups.of(compiled.rule, alarm);
      entry.group.restoreNotified(alarm, lastNotifiedAt(status, compiled.rule));
      this.#groups.schedule(entry);
    }
  }
}

function byCreation(a: Readonly<CustomObject>, b: Readonly<CustomObject>): number {
  const at = (o: Readonly<CustomObject>) => new Date(o.metadata?.creationTimestamp ?? 0).getTime();
  return at(a) - at(b);
}
