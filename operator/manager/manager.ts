import type { V1ConfigMap, V1Secret } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import {
  ALARM_EVENT_PHASES,
  ALARM_EVENT_PLURAL,
  ALARM_RULE_PLURAL,
  DINGTALK_SERVICE_PLURAL,
  GROUP,
  VERSION,
} from '../api/index.ts';
import type { OperatorConfig } from '../config.ts';
import { referencedConfigMaps, referencedSecrets } from '../controllers/dingtalk-service/references.ts';
import { HeldTargets } from '../delivery/held.ts';
import { RobotBudgets } from '../delivery/robot-budgets.ts';
import { createDingTalkClient } from '../dingtalk/index.ts';
import { ALARM_EVENT_PAGE_SIZE, projectAlarmEvent } from '../dispatch/alarm-projection.ts';
import { CardClicks } from '../dispatch/card-clicks.ts';
import { StreamConnections } from '../dispatch/stream-connections.ts';
import { QuotaLedger } from '../quota/ledger.ts';
import { TemplatePool } from '../rules/template-pool.ts';
import { EventRecorder } from '../runtime/events.ts';
import { HealthServer } from '../runtime/health.ts';
import { loadKubeEndpoint } from '../runtime/kube-endpoint.ts';
import { KubeHttp, rateLimitOf } from '../runtime/kube-http.ts';
import { kubeLeaseStore, LeaderElector } from '../runtime/leader.ts';
import { OperatorMetrics } from '../runtime/metrics.ts';
import { StatusWriter } from '../runtime/status.ts';
import { MemberDirectory } from '../targets/index.ts';
import type { Component, ComponentFactory, CustomObject, OperatorContext } from './context.ts';
import { ReferenceStore } from './reference-store.ts';
import { type CacheOptions, ResourceCache, type ResourceType } from './resource-cache.ts';

const crd = (plural: string): ResourceType => ({ group: GROUP, version: VERSION, plural });

/**
 * Template workers: two, so that a render cut off at its time limit leaves another worker for the
 * other namespaces meanwhile. Both started, they add 30-40 MiB to the container's resident memory
 * (test/bench/template-pool-memory.ts; one alone 20-30 MiB), and a replica that never leads starts none.
 */
const TEMPLATE_WORKERS = 2;

/**
 * Runs the operator: caches and the DingTalk Stream connections start on every replica (so followers
 * are ready to take over and stay in the Service, and take the card clicks DingTalk hands them),
 * components start only on the leader, and losing the lease ends the process, because
 * work already in flight cannot be un-run safely.
 */
export class Manager {
  readonly context: OperatorContext;
  readonly health: HealthServer;
  readonly #factories: ComponentFactory[];
  readonly #log: Logger;
  readonly #templates: TemplatePool;
  readonly #streams: StreamConnections;
  #components: Component[] = [];
  readonly #stop = new AbortController();
  /** The election loop; it ends after releasing the lease, which shutdown waits for. */
  #electing: Promise<void> = Promise.resolve();
  /** The health server's start and the caches'; shutdown waits for it, so nothing opens after it. */
  #starting: Promise<void> = Promise.resolve();
  /** The components' start-up; shutdown waits for it to settle, so nothing starts after it returns. */
  #leading: Promise<void> = Promise.resolve();

  /** `wallMs`: the calendar the quota ledger counts months on (tests move it to a month's end). */
  constructor(
    config: OperatorConfig,
    logger: Logger,
    factories: ComponentFactory[],
    { wallMs = Date.now }: { wallMs?: () => number } = {},
  ) {
    const metrics = new OperatorMetrics();
    // One connection pool for every call and watch; no limit on connections, since each watch holds one.
    const kube = new KubeHttp(loadKubeEndpoint(config), {
      connections: null,
      timeoutMs: config.kubeRequestTimeout,
      rateLimit: rateLimitOf(config),
      onComeBackLater: (answer) => metrics.recordKubeComeBackLater(answer),
    });
    const cache = <T extends CustomObject>(type: ResourceType, options?: CacheOptions<T>) =>
      new ResourceCache<T>(kube, type, config.namespaces, logger, options);
    const services = cache<CustomObject>(crd(DINGTALK_SERVICE_PLURAL));
    // Secrets and ConfigMaps are read by name when a service refers to them, never listed or cached
    // cluster-wide: a cluster may hold thousands (Helm keeps every release in one), none of them ours.
    const references = <T extends V1Secret | V1ConfigMap>(
      plural: string,
      referenced: (service: Readonly<CustomObject>) => ReadonlySet<string>,
    ) =>
      new ReferenceStore<T>({
        kube,
        plural,
        namespaces: config.namespaces,
        perNamespaceAccess: config.secretAccessRole !== undefined,
        accessGrant: (namespace) => secretAccessGrant(config, namespace),
        referrers: services,
        referenced,
        logger,
      });
    this.#log = logger;
    this.#factories = factories;
    const dingtalk = createDingTalkClient({
      oapiBaseUrl: config.dingtalkRobotUrl,
      apiBaseUrl: config.dingtalkApiUrl,
      allowedWebhookHosts: config.allowedWebhookHosts,
      onRequest: ({ endpoint, resultClass, durationMs }) =>
        metrics.recordDingTalkRequest(endpoint, resultClass, durationMs / 1000),
      onTokenCache: ({ result }) => metrics.recordTokenCache(result === 'hit'),
    });
    this.#templates = new TemplatePool({ size: TEMPLATE_WORKERS, logger });
    this.context = {
      config,
      kube,
      logger,
      metrics,
      events: new EventRecorder({
        kube: kube.withOwnRateLimit(),
        reportingController: `${GROUP}/dingtalk-operator`,
        reportingInstance: config.identity,
        logger,
      }),
      dingtalk,
      members: new MemberDirectory(dingtalk, { ttlMs: config.revalidateInterval }),
      held: new HeldTargets(),
      quota: new QuotaLedger({
        timeZone: config.quotaTimeZone,
        now: wallMs,
        service: (namespace, name) => services.get(namespace, name),
        services: () => services.list(),
      }),
      templates: this.#templates,
      robotBudgets: new RobotBudgets({ limit: config.robotRateLimit, windowMs: 60_000 }),
      caches: {
        services,
        rules: cache<CustomObject>(crd(ALARM_RULE_PLURAL)),
        // Tenants write AlarmEvents, up to thousands each: cached as dispatch reads them (alarm-projection.ts).
        alarms: cache<CustomObject>(crd(ALARM_EVENT_PLURAL), {
          pageSize: ALARM_EVENT_PAGE_SIZE,
          transform: projectAlarmEvent,
        }),
        secrets: references<V1Secret>('secrets', referencedSecrets),
        configMaps: references<V1ConfigMap>('configmaps', referencedConfigMaps),
      },
      status: {
        services: new StatusWriter(kube, crd(DINGTALK_SERVICE_PLURAL)),
        rules: new StatusWriter(kube, crd(ALARM_RULE_PLURAL)),
        alarms: new StatusWriter(kube, crd(ALARM_EVENT_PLURAL), { guardIdentity: true }),
      },
    };
    this.#streams = new StreamConnections(this.context, new CardClicks(this.context));
    this.context.streams = this.#streams;
    const quota = this.context.quota;
    metrics.observeQuota(function* () {
      for (const { namespace, service, reports } of quota.all()) {
        for (const report of reports) {
          const robot = report.bucket.kind === 'Robot';
          yield {
            labels: {
              namespace,
              service,
              bucket: robot ? 'robot' : 'app',
              target: report.bucket.kind === 'Robot' ? report.bucket.group : 'app',
            },
            calls: report.calls,
            limit: report.limit,
            exhausted: report.state === 'Exhausted',
          } as const;
        }
      }
    });
    this.health = new HealthServer({
      host: config.healthAddress,
      port: config.healthPort,
      metrics,
      logger,
    });
    for (const [name, resourceCache] of Object.entries(this.context.caches)) {
      this.health.addReadinessCheck(`cache ${name}`, () => resourceCache.hasSynced() || 'not synced yet');
    }
    this.#observe();
  }

  /** Runs until `shutdown()` or a signal; rejects when leadership is lost. */
  async run(): Promise<void> {
    const { config } = this.context;
    this.#starting = this.#startCaches();
    await this.#starting;
    if (this.#stop.signal.aborted) return;
    this.#streams
      .start(this.#stop.signal)
      .catch((err) => this.#log.warn({ err }, 'the DingTalk Stream connections did not start'));

    if (!config.leaderElect) {
      // A single replica without election leads all along; the metric says so, as for an elected one.
      this.context.metrics.setLeader(true);
      this.#leading = this.#lead(this.#stop.signal);
      await this.#leading;
      await untilAborted(this.#stop.signal);
      return;
    }
    let lost: (err: Error) => void = () => undefined;
    const leadershipLost = new Promise<never>((_, reject) => {
      lost = reject;
    });
    const elector = new LeaderElector({
      store: kubeLeaseStore(this.context.kube, config.leaseNamespace, config.leaseName),
      identity: config.identity,
      leaseDurationMs: config.leaseDuration,
      renewDeadlineMs: config.renewDeadline,
      retryPeriodMs: config.retryPeriod,
      logger: this.#log,
      onStartedLeading: (signal) => {
        this.context.metrics.setLeader(true);
        this.#leading = this.#lead(signal);
        this.#leading.catch((err) => lost(err));
      },
      onStoppedLeading: () => {
        this.context.metrics.setLeader(false);
        lost(new Error('leader election lost'));
      },
      onNewLeader: (identity) => this.#log.info({ leader: identity }, 'leader observed'),
    });
    this.#electing = elector.run(this.#stop.signal);
    await Promise.race([this.#electing, leadershipLost]);
  }

  /**
   * Stops components within the grace period, then releases the lease (via run's signal) and waits for
   * that, so a follower takes over at once instead of after the lease expires; then closes the rest.
   */
  async shutdown(): Promise<void> {
    const grace = this.context.config.shutdownGracePeriod;
    await this.#starting.catch(() => undefined);
    await Promise.all(this.#components.map((component) => component.stop(grace)));
    await this.#streams.stop();
    this.#stop.abort();
    // Its failures are run()'s to report; here only its end (the lease released) matters.
    await this.#electing.catch(() => undefined);
    // A start-up still waiting for caches sees the abort and settles; none of it runs after this.
    await this.#leading.catch(() => undefined);
    await Promise.all(Object.values(this.context.caches).map((resourceCache) => resourceCache.stop()));
    await this.#templates.close();
    await this.context.kube.close();
    await this.context.dingtalk.close();
    await this.health.close();
  }

  /** What the metrics read from the caches: alarms by phase, phase changes, and failing watches. */
  #observe(): void {
    const { metrics, caches } = this.context;
    const phaseOf = (alarm: Readonly<CustomObject>) =>
      (alarm.status as { phase?: string } | undefined)?.phase ?? 'Pending';
    metrics.observeAlarmPhases(ALARM_EVENT_PHASES, () => caches.alarms.list().map(phaseOf));
    for (const informer of caches.alarms.informers) {
      informer.onEvent((event) => {
        if (event.type !== 'update') return;
        const phase = phaseOf(event.object);
        if (phase !== phaseOf(event.oldObject)) metrics.recordAlarmPhaseChange(phase);
      });
    }
    for (const [name, resourceCache] of Object.entries({
      services: caches.services,
      rules: caches.rules,
      alarms: caches.alarms,
    })) {
      for (const informer of resourceCache.informers) {
        metrics.observeWatch(name, informer.path, () => informer.lastError !== undefined);
      }
    }
  }

  async #startCaches(): Promise<void> {
    await this.health.listen();
    for (const resourceCache of Object.values(this.context.caches)) resourceCache.start();
  }

  /** Starts the components; a start-up cut short by shutdown or a lost lease is no failure of its own. */
  async #lead(signal: AbortSignal): Promise<void> {
    this.#components = this.#factories.flatMap((factory) => factory(this.context));
    this.#log.info({ components: this.#components.map((c) => c.name) }, 'leading; starting components');
    const started = await Promise.allSettled(this.#components.map((component) => component.start(signal)));
    const failed = started.find((result) => result.status === 'rejected');
    if (failed && !signal.aborted) throw failed.reason;
  }
}

function untilAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

/** What SecretAccessDenied tells to do: the RoleBinding that grants the operator a namespace's Secrets. */
function secretAccessGrant(config: OperatorConfig, namespace: string): string {
  const role = config.secretAccessRole ?? '';
  const account = config.serviceAccount ? ` --serviceaccount=${config.serviceAccount}` : '';
  return `create RoleBinding "${role}" there, binding ClusterRole "${role}" to the operator's ServiceAccount: kubectl create rolebinding ${role} -n ${namespace} --clusterrole=${role}${account}`;
}
