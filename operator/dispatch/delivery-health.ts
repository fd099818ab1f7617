import type { Logger } from 'pino';
import {
  ALARM_RULE_PLURAL,
  AlarmRuleGvk,
  API_VERSION,
  DINGTALK_SERVICE_PLURAL,
  DingTalkServiceGvk,
  GROUP,
  type TargetKind,
  VERSION,
} from '../api/index.ts';
import type { RobotId, RobotMark } from '../delivery/robot-health.ts';
import { isNotFound, KubeUnavailableError } from '../errors.ts';
import type { CustomObject } from '../manager/context.ts';
import { backoffDelay } from '../runtime/backoff.ts';
import { mapConcurrently } from '../runtime/concurrency.ts';
import type { KubeHttp } from '../runtime/kube-http.ts';
import { objectPath } from '../runtime/kube-path.ts';
import { type Clock, systemClock } from '../runtime/timers.ts';
import {
  type Outcome,
  type Owned,
  type PoolRobotHealth,
  type RuleHealth,
  ruleStatus,
  type ServiceHealth,
  serviceStatus,
} from './delivery-health-status.ts';
import { timestamp } from './ledger.ts';

/**
 * Delivery health in DingTalkService and AlarmRule status: the fields dispatch owns (see
 * DingTalkServiceStatus for who writes which), by server-side apply under a field manager of its own.
 * Updates are batched: at most one apply per object per interval, whatever the send rate. An object
 * whose apply failed waits out a backoff (and the API server's Retry-After) before the next, so an
 * API server in trouble is not asked again every interval. Groups no longer in the service's spec are
 * dropped, so apply removes their entries. A storm touching a thousand services makes a thousand applies
 * in one interval: they go APPLY_CONCURRENCY at a time, and the next interval's flush waits for the last.
 */

const FIELD_MANAGER = 'dingtalk-operator-dispatch';
const RETRY_BACKOFF = { maxMs: 60_000, jitter: 0.2 };
export const APPLY_CONCURRENCY = 8;

export interface HealthSources {
  service(namespace: string, name: string): Readonly<CustomObject> | undefined;
  rule(namespace: string, name: string): Readonly<CustomObject> | undefined;
}

export type TargetName = { kind: TargetKind; name: string };

export class DeliveryHealth {
  readonly #kube: KubeHttp;
  readonly #sources: HealthSources;
  readonly #log: Logger;
  readonly #intervalMs: number;
  readonly #clock: Clock;
  readonly #services = new Map<string, ServiceHealth>();
  readonly #rules = new Map<string, RuleHealth>();
  readonly #dirty = new Set<string>();
  /** Objects whose last apply failed: failures in a row, and when the next may be tried. */
  readonly #failing = new Map<string, { failures: number; notBefore: number }>();
  #cancelTimer: (() => void) | undefined;
  #flushing: Promise<void> | undefined;

  constructor(
    kube: KubeHttp,
    sources: HealthSources,
    logger: Logger,
    { intervalMs = 1_000, clock = systemClock }: { intervalMs?: number; clock?: Clock } = {},
  ) {
    this.#kube = kube;
    this.#sources = sources;
    this.#log = logger;
    this.#intervalMs = intervalMs;
    this.#clock = clock;
  }

  start(): void {
    if (this.#cancelTimer) return;
    const tick = () => {
      this.#cancelTimer = this.#clock.timer(this.#intervalMs, () => {
        // A flush still under way (many objects, a slow API server) is not joined by a second one.
        this.#flushing ??= this.#flush(false).finally(() => {
          this.#flushing = undefined;
        });
        tick();
      });
    };
    tick();
  }

  /** Applies what is left once more, backoffs aside: this is the last chance before the process ends. */
  async stop(): Promise<void> {
    this.#cancelTimer?.();
    await this.#flushing;
    await this.#flush(true);
  }

  sent(namespace: string, service: string, target: TargetName, at: number): void {
    const health = this.#service(namespace, service);
    health.deliveries.sent++;
    health.lastSuccess = { time: timestamp(at), target };
    this.#outcome(health, target, { time: timestamp(at), result: 'Succeeded' });
    this.#dirty.add(`s/${namespace}/${service}`);
  }

  throttled(
    namespace: string,
    service: string,
    target: TargetName,
    at: number,
    until: number | undefined,
  ): void {
    const health = this.#service(namespace, service);
    health.deliveries.throttled++;
    this.#outcome(health, target, { time: timestamp(at), result: 'Throttled' });
    if (target.kind === 'Group' && until !== undefined) {
      const group = health.groups.get(target.name) ?? {};
      group.throttledUntil = timestamp(until);
      health.groups.set(target.name, group);
    }
    this.#dirty.add(`s/${namespace}/${service}`);
  }

  failed(
    namespace: string,
    service: string,
    target: TargetName,
    at: number,
    errcode?: string,
    message?: string,
  ): void {
    this.#service(namespace, service).deliveries.failed++;
    this.#refused(namespace, service, target, at, errcode, message);
  }

  /** DingTalk refused a send for a configuration reason: the alarm is held, not failed (yet). */
  held(
    namespace: string,
    service: string,
    target: TargetName,
    at: number,
    errcode?: string,
    message?: string,
  ): void {
    this.#refused(namespace, service, target, at, errcode, message);
  }

  /** Records a refused send as the service's last failure and its target's last outcome. */
  #refused(
    namespace: string,
    service: string,
    target: TargetName,
    at: number,
    errcode?: string,
    message?: string,
  ): void {
    const health = this.#service(namespace, service);
    const text = message?.slice(0, 1024);
    health.lastFailure = { time: timestamp(at), target, errcode, message: text };
    this.#outcome(health, target, { time: timestamp(at), result: 'Failed', errcode, message: text });
    this.#dirty.add(`s/${namespace}/${service}`);
  }

  /** DingTalk refused a pool's robot: alarms skip it (robot-health.ts) until it recovers. */
  robotTrouble(mark: RobotMark, at: number): void {
    const robot = this.#robot(mark);
    robot.trouble = mark;
    robot.lastDelivery = {
      time: timestamp(at),
      result: mark.trouble === 'Blocked' ? 'Throttled' : 'Failed',
      ...(mark.errcode !== undefined && { errcode: mark.errcode }),
      ...(mark.message !== undefined && { message: mark.message }),
    };
    this.#dirty.add(`s/${mark.namespace}/${mark.service}`);
  }

  /** DingTalk took an alarm notification through a pool's robot: it is healthy. */
  robotSent(id: RobotId, at: number): void {
    const robot = this.#robot(id);
    robot.trouble = undefined;
    robot.lastDelivery = { time: timestamp(at), result: 'Succeeded' };
    this.#dirty.add(`s/${id.namespace}/${id.service}`);
  }

  #robot(id: RobotId): PoolRobotHealth {
    const health = this.#service(id.namespace, id.service);
    const group = health.groups.get(id.group) ?? {};
    group.robots ??= new Map();
    let robot = group.robots.get(id.robot);
    if (!robot) {
      robot = {};
      group.robots.set(id.robot, robot);
    }
    health.groups.set(id.group, group);
    return robot;
  }

  serviceSuppressed(namespace: string, service: string, count = 1): void {
    this.#service(namespace, service).deliveries.suppressed += count;
    this.#dirty.add(`s/${namespace}/${service}`);
  }

  rule(
    namespace: string,
    name: string,
    change: Partial<RuleHealth['counters']>,
    fired?: RuleHealth['lastFired'],
  ): void {
    const health = this.#rule(namespace, name);
    for (const [key, value] of Object.entries(change) as [keyof RuleHealth['counters'], number][]) {
      health.counters[key] += value;
    }
    if (fired) health.lastFired = fired;
    this.#dirty.add(`r/${namespace}/${name}`);
  }

  /** Forgets the health of objects deleted or re-created since: a new object starts from its own status. */
  prune(): void {
    for (const [kind, map, source] of [
      ['s', this.#services, (ns: string, n: string) => this.#sources.service(ns, n)],
      ['r', this.#rules, (ns: string, n: string) => this.#sources.rule(ns, n)],
    ] as const) {
      for (const [key, health] of map) {
        const [namespace, name] = key.split('/') as [string, string];
        if (owns(health, source(namespace, name))) continue;
        map.delete(key);
        this.#dirty.delete(`${kind}/${key}`);
        this.#failing.delete(`${kind}/${key}`);
      }
    }
  }

  /** Applies the health of every changed object, except those still backing off unless `all`. */
  async #flush(all: boolean): Promise<void> {
    const now = this.#clock.monotonicMs();
    const keys = [...this.#dirty].filter((key) => all || (this.#failing.get(key)?.notBefore ?? 0) <= now);
    for (const key of keys) this.#dirty.delete(key);
    // Never rejects: each apply's failure is caught and scheduled for retry.
    await mapConcurrently(keys, APPLY_CONCURRENCY, async (key) => {
      try {
        await this.#apply(key);
        this.#failing.delete(key);
      } catch (err) {
        this.#dirty.add(key);
        const failures = (this.#failing.get(key)?.failures ?? 0) + 1;
        const retryAfterMs = err instanceof KubeUnavailableError ? (err.retryAfter ?? 0) * 1000 : 0;
        const delayMs = Math.max(
          backoffDelay(failures, { initialMs: this.#intervalMs, ...RETRY_BACKOFF }),
          retryAfterMs,
        );
        this.#failing.set(key, { failures, notBefore: this.#clock.monotonicMs() + delayMs });
        this.#log.warn(
          { err, object: key.slice(2), retryInMs: delayMs },
          'could not write delivery health; will retry',
        );
      }
    });
  }

  async #apply(key: string): Promise<void> {
    const [kind, namespace, name] = key.split('/') as [string, string, string];
    const isService = kind === 's';
    const [map, source] = isService
      ? [this.#services, this.#sources.service(namespace, name)]
      : [this.#rules, this.#sources.rule(namespace, name)];
    const health = map.get(`${namespace}/${name}`);
    // Deleted, or re-created since: these counters are not the object's that now bears the name.
    if (health && !owns(health, source)) {
      map.delete(`${namespace}/${name}`);
      return;
    }
    const body = {
      apiVersion: API_VERSION,
      kind: isService ? DingTalkServiceGvk.kind : AlarmRuleGvk.kind,
      metadata: { name, namespace },
      status: isService
        ? serviceStatus(
            this.#services.get(`${namespace}/${name}`),
            this.#specGroups(namespace, name),
            this.#specAppGroups(namespace, name),
          )
        : ruleStatus(this.#rules.get(`${namespace}/${name}`)),
    };
    try {
      const plural = isService ? DINGTALK_SERVICE_PLURAL : ALARM_RULE_PLURAL;
      await this.#kube.apply(
        `${objectPath({ group: GROUP, version: VERSION, plural, namespace, name })}/status`,
        body,
        { fieldManager: FIELD_MANAGER, force: true },
      );
    } catch (err) {
      // Apply would create a deleted object's status from nothing; it answers 404 for a missing object.
      if (isNotFound(err)) return;
      throw err;
    }
  }

  /** The service's groups now, each with its pool's robots' names. */
  #specGroups(namespace: string, name: string): Map<string, Set<string>> {
    const spec = this.#sources.service(namespace, name)?.spec as
      | { groups?: { name?: string; robots?: { name?: string }[] }[] }
      | undefined;
    return new Map(
      (spec?.groups ?? []).map((group) => [
        group.name ?? '',
        new Set((group.robots ?? []).map((robot) => robot.name ?? '')),
      ]),
    );
  }

  /** The names of the service's groups reached through the app's robot now. */
  #specAppGroups(namespace: string, name: string): Set<string> {
    const spec = this.#sources.service(namespace, name)?.spec as
      | { member?: { groups?: { name?: string }[] } }
      | undefined;
    return new Set((spec?.member?.groups ?? []).map((group) => group.name ?? ''));
  }

  #outcome(health: ServiceHealth, target: TargetName, outcome: Outcome): void {
    if (target.kind === 'Member') {
      health.member = { lastDelivery: outcome };
      return;
    }
    if (target.kind === 'AppGroup') {
      health.appGroups.set(target.name, { lastDelivery: outcome });
      return;
    }
    const group = health.groups.get(target.name) ?? {};
    group.lastDelivery = outcome;
    health.groups.set(target.name, group);
  }

  /**
   * Counters continue from what the object's status says when this run first touches it, or first
   * touches it again after it was re-created.
   */
  #service(namespace: string, name: string): ServiceHealth {
    const key = `${namespace}/${name}`;
    const source = this.#sources.service(namespace, name);
    let health = this.#services.get(key);
    if (!health || (source && !owns(health, source))) {
      const status = (source?.status ?? {}) as {
        deliveries?: Partial<ServiceHealth['deliveries']>;
      };
      const d = status.deliveries ?? {};
      health = {
        uid: source?.metadata?.uid,
        deliveries: {
          sent: d.sent ?? 0,
          throttled: d.throttled ?? 0,
          failed: d.failed ?? 0,
          suppressed: d.suppressed ?? 0,
        },
        groups: new Map(),
        appGroups: new Map(),
      };
      this.#services.set(key, health);
    }
    return health;
  }

  #rule(namespace: string, name: string): RuleHealth {
    const key = `${namespace}/${name}`;
    const source = this.#sources.rule(namespace, name);
    let health = this.#rules.get(key);
    if (!health || (source && !owns(health, source))) {
      const status = (source?.status ?? {}) as {
        counters?: Partial<RuleHealth['counters']>;
      };
      const c = status.counters ?? {};
      health = {
        uid: source?.metadata?.uid,
        counters: {
          matched: c.matched ?? 0,
          notified: c.notified ?? 0,
          suppressed: c.suppressed ?? 0,
          failed: c.failed ?? 0,
        },
      };
      this.#rules.set(key, health);
    }
    return health;
  }
}

function owns(health: Owned, source: Readonly<CustomObject> | undefined): boolean {
  return source !== undefined && health.uid === source.metadata?.uid;
}
