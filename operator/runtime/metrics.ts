import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { ErrorClass } from '../dingtalk/errors.ts';

/**
 * The operator's Prometheus metrics on a registry of its own (so tests and several operators in one
 * process do not collide). Other modules record through the small functions below rather than
 * touching metric objects, which keeps label names and values in one place.
 */

export type ReconcileResult = 'success' | 'requeue' | 'error' | 'terminal';

/**
 * How a DingTalk call ended: `ok`, or the client's error class (throttled, transient, auth, permanent),
 * so dashboards and retry decisions speak one vocabulary.
 */
export type DingTalkResultClass = 'ok' | ErrorClass;

const PREFIX = 'dingtalk_operator_';

/** One quota bucket's month, as the metrics show it; no label carries a credential. */
export interface QuotaSample {
  labels: { namespace: string; service: string; bucket: 'robot' | 'app'; target: string };
  calls: number;
  limit: number;
  exhausted: boolean;
}

export class OperatorMetrics {
  readonly registry = new Registry();

  readonly reconcileTotal = new Counter({
    name: `${PREFIX}reconcile_total`,
    help: 'Reconciles by controller and result.',
    labelNames: ['controller', 'result'] as const,
    registers: [this.registry],
  });

  readonly reconcileErrors = new Counter({
    name: `${PREFIX}reconcile_errors_total`,
    help: 'Reconciles that failed (retried or terminal), by controller.',
    labelNames: ['controller'] as const,
    registers: [this.registry],
  });

  readonly reconcileDuration = new Histogram({
    name: `${PREFIX}reconcile_duration_seconds`,
    help: 'Time spent in reconcile, by controller.',
    labelNames: ['controller'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  readonly workqueueDepth = new Gauge({
    name: `${PREFIX}workqueue_depth`,
    help: 'Keys waiting to be reconciled, by controller.',
    labelNames: ['controller'] as const,
    registers: [this.registry],
    collect: () => this.#collectQueueDepths(),
  });

  readonly alarmEvents = new Gauge({
    name: `${PREFIX}alarm_events`,
    help: "AlarmEvents in this replica's cache by status.phase (no phase yet: Pending).",
    labelNames: ['phase'] as const,
    registers: [this.registry],
    collect: () => this.#collectAlarmPhases(),
  });

  readonly alarmStatusUnwritten = new Gauge({
    name: `${PREFIX}alarm_status_unwritten`,
    help: 'AlarmEvents whose status (the delivery ledger) has changes this replica has not written yet.',
    registers: [this.registry],
    collect: () => this.#collectStatusUnwritten(),
  });

  readonly alarmEventPhases = new Counter({
    name: `${PREFIX}alarm_event_phase_changes_total`,
    help: "AlarmEvents seen to enter a phase (a change of status.phase in this replica's cache), by the phase entered.",
    labelNames: ['phase'] as const,
    registers: [this.registry],
  });

  readonly watchFailing = new Gauge({
    name: `${PREFIX}watch_failing`,
    help: 'By cache and collection path: 1 while its list or watch has failed and not succeeded since (it is retried on a backoff), else 0.',
    labelNames: ['cache', 'collection'] as const,
    registers: [this.registry],
    collect: () => this.#collectWatches(),
  });

  readonly dingtalkRequests = new Counter({
    name: `${PREFIX}dingtalk_requests_total`,
    help: 'Requests to DingTalk by endpoint and result class.',
    labelNames: ['endpoint', 'result'] as const,
    registers: [this.registry],
  });

  readonly dingtalkRequestDuration = new Histogram({
    name: `${PREFIX}dingtalk_request_duration_seconds`,
    help: 'Duration of requests to DingTalk by endpoint.',
    labelNames: ['endpoint'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly tokenCache = new Counter({
    name: `${PREFIX}token_cache_total`,
    help: 'Access-token cache lookups by result (hit or miss).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly kubeComeBackLater = new Counter({
    name: `${PREFIX}kube_api_come_back_later_total`,
    help: 'Kubernetes API answers asking to come back later (429 from API Priority and Fairness, or 5xx with Retry-After), by code and by whether the client retried the call or failed it.',
    labelNames: ['code', 'retried'] as const,
    registers: [this.registry],
  });

  readonly streamConnected = new Gauge({
    name: `${PREFIX}dingtalk_stream_connected`,
    help: "1 while the app's DingTalk Stream connection (card clicks) is open, by app clientId.",
    labelNames: ['app'] as const,
    registers: [this.registry],
    collect: () => this.#collectStreams(),
  });

  readonly streamEvents = new Counter({
    name: `${PREFIX}dingtalk_stream_events_total`,
    help: 'DingTalk Stream connection events by app clientId and event (opened, openFailed, closed, disconnectRequested, silence, ping, callback, callbackAnswered, callbackLate, callbackFailed, malformed).',
    labelNames: ['app', 'event'] as const,
    registers: [this.registry],
  });

  readonly cardClicks = new Counter({
    name: `${PREFIX}card_clicks_total`,
    help: 'Card button clicks received over DingTalk Stream, by outcome: Recorded, Unchanged, or why refused (UnknownEvent, NotAMember, ActionNotOffered, InvalidSnooze, AlreadyResolved, UnknownButton).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly leader = new Gauge({
    name: `${PREFIX}leader`,
    help: '1 while this replica holds the leader lease.',
    registers: [this.registry],
  });

  readonly quotaCalls = new Gauge({
    name: `${PREFIX}quota_calls`,
    help: "DingTalk calls counted this month (in --quota-time-zone) per service and quota bucket: bucket robot (target: the group's name) or app (target: app).",
    labelNames: ['namespace', 'service', 'bucket', 'target'] as const,
    registers: [this.registry],
    // Sets the limit and exhausted gauges too: they are registered after it, so are read after it.
    collect: () => this.#collectQuota(),
  });

  readonly quotaLimit = new Gauge({
    name: `${PREFIX}quota_limit`,
    help: 'The monthly quota each bucket is counted against (monthlyQuota in the service).',
    labelNames: ['namespace', 'service', 'bucket', 'target'] as const,
    registers: [this.registry],
  });

  readonly quotaExhausted = new Gauge({
    name: `${PREFIX}quota_exhausted`,
    help: '1 while a bucket is spent this month (counted to its limit, or DingTalk said so), else 0.',
    labelNames: ['namespace', 'service', 'bucket', 'target'] as const,
    registers: [this.registry],
  });

  readonly #queueDepths = new Map<string, () => number>();
  #statusUnwritten: () => number = () => 0;
  #quota: (() => Iterable<QuotaSample>) | undefined;
  readonly #streams = new Map<string, () => boolean>();

  constructor({ processMetrics = true }: { processMetrics?: boolean } = {}) {
    if (processMetrics) collectDefaultMetrics({ register: this.registry, prefix: PREFIX });
  }

  recordReconcile(controller: string, result: ReconcileResult, seconds: number): void {
    this.reconcileTotal.inc({ controller, result });
    this.reconcileDuration.observe({ controller }, seconds);
    if (result === 'error' || result === 'terminal') this.reconcileErrors.inc({ controller });
  }

  /** Reports the controller's queue depth at every scrape. */
  observeQueueDepth(controller: string, depth: () => number): void {
    this.#queueDepths.set(controller, depth);
  }

  recordDingTalkRequest(endpoint: string, result: DingTalkResultClass, seconds?: number): void {
    this.dingtalkRequests.inc({ endpoint, result });
    if (seconds !== undefined) this.dingtalkRequestDuration.observe({ endpoint }, seconds);
  }

  /** Reports the month's quota counts at every scrape. */
  observeQuota(samples: () => Iterable<QuotaSample>): void {
    this.#quota = samples;
  }

  #collectQuota(): void {
    for (const gauge of [this.quotaCalls, this.quotaLimit, this.quotaExhausted]) gauge.reset();
    for (const { labels, calls, limit, exhausted } of this.#quota?.() ?? []) {
      this.quotaCalls.set(labels, calls);
      this.quotaLimit.set(labels, limit);
      this.quotaExhausted.set(labels, exhausted ? 1 : 0);
    }
  }

  recordTokenCache(hit: boolean): void {
    this.tokenCache.inc({ result: hit ? 'hit' : 'miss' });
  }

  recordKubeComeBackLater({ status, retried }: { status: number; retried: boolean }): void {
    this.kubeComeBackLater.inc({ code: String(status), retried: String(retried) });
  }

  /** A Stream client's event (its onEvent hook), counted per app. */
  recordStreamEvent(app: string, event: string): void {
    this.streamEvents.inc({ app, event });
  }

  /** Reports whether the app's Stream connection is open at every scrape (its status().connected). */
  observeStream(app: string, connected: () => boolean): void {
    this.#streams.set(app, connected);
  }

  /** Reports the cached AlarmEvents' phases at every scrape; every `known` phase shows, at 0 if need be. */
  observeAlarmPhases(known: readonly string[], current: () => Iterable<string>): void {
    this.#alarmPhases = { known, current };
  }

  /** Reports at every scrape how many AlarmEvents' ledgers wait to be written (dispatch's status store). */
  observeStatusUnwritten(unwritten: () => number): void {
    this.#statusUnwritten = unwritten;
  }

  recordAlarmPhaseChange(phase: string): void {
    this.alarmEventPhases.inc({ phase });
  }

  /** Reports at every scrape whether a cache's list/watch of `collection` is failing. */
  observeWatch(cache: string, collection: string, failing: () => boolean): void {
    this.#watches.set(collection, { cache, failing });
  }

  /** Stops reporting an app's Stream connection, once the operator no longer keeps one. */
  forgetStream(app: string): void {
    this.#streams.delete(app);
    this.streamConnected.remove({ app });
  }

  /** What came of a card click: the decision's outcome or refusal reason. */
  recordCardClick(outcome: string): void {
    this.cardClicks.inc({ outcome });
  }

  setLeader(leading: boolean): void {
    this.leader.set(leading ? 1 : 0);
  }

  #collectStreams(): void {
    for (const [app, connected] of this.#streams) this.streamConnected.set({ app }, connected() ? 1 : 0);
  }

  #alarmPhases: { known: readonly string[]; current: () => Iterable<string> } = {
    known: [],
    current: () => [],
  };
  readonly #watches = new Map<string, { cache: string; failing: () => boolean }>();

  #collectAlarmPhases(): void {
    const { known, current } = this.#alarmPhases;
    const counts = new Map<string, number>(known.map((phase) => [phase, 0]));
    for (const phase of current()) counts.set(phase, (counts.get(phase) ?? 0) + 1);
    for (const [phase, count] of counts) this.alarmEvents.set({ phase }, count);
  }

  #collectWatches(): void {
    for (const [collection, { cache, failing }] of this.#watches) {
      this.watchFailing.set({ cache, collection }, failing() ? 1 : 0);
    }
  }

  #collectStatusUnwritten(): void {
    this.alarmStatusUnwritten.set(this.#statusUnwritten());
  }

  #collectQueueDepths(): void {
    for (const [controller, depth] of this.#queueDepths) this.workqueueDepth.set({ controller }, depth());
  }
}
