import {
  type BucketUsage,
  FREE_API_CALLS_PER_MONTH,
  FREE_WEBHOOK_CALLS_PER_MONTH,
  type QuotaUsage,
} from '../api/index.ts';
import type { CustomObject } from '../manager/context.ts';
import { monthBounds, monthOf } from './month.ts';
import { type BucketCount, projectExhaustion, type QuotaState, quotaState } from './projection.ts';

/**
 * DingTalk's monthly quota buckets as one service sees them: a group's robot (webhook calls, counted
 * against the organisation's Webhook&Stream allowance or the robot's own cap) and the service's app (API
 * calls: batchSend, cards, DING).
 */
export type QuotaBucket = { kind: 'Robot'; group: string } | { kind: 'App' };

export interface QuotaCall {
  namespace: string;
  service: string;
  bucket: QuotaBucket;
}

/**
 * The one counting interface for everything that calls DingTalk on a service's behalf (alarm sends,
 * test messages, cards, DING). Call `count` for each call DingTalk counts, including calls it refused
 * for content or configuration and calls whose answer was lost; not for answers that say the call was
 * throttled (DingTalk does not count those) or that the quota is spent (call `exhausted` instead).
 */
export interface QuotaCounter {
  count(call: QuotaCall, calls?: number): void;
  exhausted(call: QuotaCall): void;
}

/** One bucket's month as the ledger and the conditions see it. */
export interface BucketReport extends BucketCount {
  bucket: QuotaBucket;
  month: string;
  state: QuotaState;
  projectedExhaustion?: number;
}

interface Counted {
  month: string;
  calls: number;
  exhaustedAt?: number;
  /** The limit DingTalk's "spent" answer was given under; another limit (raised) clears it. */
  exhaustedLimit?: number;
}

interface ServiceCounts {
  uid: string | undefined;
  buckets: Map<string, Counted>;
  states: Map<string, QuotaState>;
}

type Listener = (namespace: string, service: string) => void;

export interface QuotaLedgerOptions {
  timeZone: string;
  /** Wall-clock milliseconds: months are calendar months, whatever the process's uptime. */
  now: () => number;
  /** The service as the cache has it: its spec gives the limits, its status the count so far. */
  service: (namespace: string, name: string) => Readonly<CustomObject> | undefined;
  /** Every service the cache holds: whose status.usage names limits their spec no longer has. */
  services: () => Iterable<Readonly<CustomObject>>;
}

/**
 * The month's DingTalk calls per service and bucket, kept in memory and written to the service's
 * status.usage by the quota writer (quota-writer.ts), from which a new run or a new leader starts: a
 * crash loses at most the counts of one write interval. Counts are the operator's own: other senders
 * sharing a robot, an app or the organisation's allowance are not seen. Keyed by namespace and service.
 */
export class QuotaLedger implements QuotaCounter {
  readonly timeZone: string;
  readonly #now: () => number;
  readonly #service: QuotaLedgerOptions['service'];
  readonly #services: QuotaLedgerOptions['services'];
  readonly #counts = new Map<string, ServiceCounts>();
  readonly #dirty = new Set<string>();
  readonly #listeners = new Set<Listener>();

  constructor(options: QuotaLedgerOptions) {
    this.timeZone = options.timeZone;
    this.#now = options.now;
    this.#service = options.service;
    this.#services = options.services;
  }

  now(): number {
    return this.#now();
  }

  /** The month `ms` falls in, in DingTalk's time zone. */
  monthOf(ms: number): string {
    return monthOf(ms, this.timeZone);
  }

  count(call: QuotaCall, calls = 1): void {
    if (calls <= 0) return;
    const counted = this.#counted(call);
    counted.calls += calls;
    this.#dirty.add(serviceKey(call.namespace, call.service));
  }

  exhausted(call: QuotaCall): void {
    const counted = this.#counted(call);
    counted.exhaustedAt = this.#now();
    counted.exhaustedLimit = this.#limit(call.namespace, call.service, call.bucket);
    this.#dirty.add(serviceKey(call.namespace, call.service));
  }

  /** The bucket's month so far, with its limit from the service's spec now. */
  report(namespace: string, service: string, bucket: QuotaBucket): BucketReport {
    const now = this.#now();
    const counted = this.#counted({ namespace, service, bucket }, false);
    const limit = this.#limit(namespace, service, bucket);
    const exhaustedAt = counted.exhaustedLimit === limit ? counted.exhaustedAt : undefined;
    const count = { calls: counted.calls, limit, exhaustedAt };
    const bounds = monthBounds(now, this.timeZone);
    return {
      bucket,
      month: counted.month,
      ...count,
      state: quotaState(count, now, bounds),
      projectedExhaustion: projectExhaustion(count, now, bounds),
    };
  }

  /** Every bucket of the service's spec, in spec order: robots, then the app. */
  reports(namespace: string, service: string): BucketReport[] {
    return bucketsOf(this.#service(namespace, service)).map((bucket) =>
      this.report(namespace, service, bucket),
    );
  }

  /**
   * Calls `listener` when a bucket of a service changes state (within, at risk, exhausted), as refresh()
   * finds it: never from within a send, so whoever listens reads a cache that has caught up.
   */
  onChange(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Services whose counts changed since the last call: the writer's work. */
  takeDirty(): string[] {
    const keys = [...this.#dirty];
    this.#dirty.clear();
    return keys;
  }

  markDirty(key: string): void {
    this.#dirty.add(key);
  }

  /** status.usage of the service: the buckets of its spec counted this month. */
  usage(namespace: string, service: string): QuotaUsage {
    const groups: (BucketUsage & { name: string })[] = [];
    let app: BucketUsage | undefined;
    for (const report of this.reports(namespace, service)) {
      const usage: BucketUsage = {
        month: report.month,
        calls: report.calls,
        limit: report.limit,
        ...(report.projectedExhaustion !== undefined && {
          projectedExhaustion: iso(report.projectedExhaustion),
        }),
        ...(report.exhaustedAt !== undefined && { exhaustedAt: iso(report.exhaustedAt) }),
      };
      if (report.bucket.kind === 'Robot') groups.push({ name: report.bucket.group, ...usage });
      else app = usage;
    }
    return { ...(groups.length > 0 && { groups }), ...(app && { app }) };
  }

  /** Every service counted in this run, with its buckets' months: what the metrics show. */
  *all(): Generator<{ namespace: string; service: string; reports: BucketReport[] }> {
    for (const key of this.#counts.keys()) {
      const [namespace, service] = JSON.parse(key) as [string, string];
      yield { namespace, service, reports: this.reports(namespace, service) };
    }
  }

  /**
   * Looks at every service counted: a month turned, a projection moved or a limit changed tells the
   * listeners, and a new month's zero is written. Services deleted or re-created are forgotten. And at
   * every service whose status.usage was written under other limits than its spec has now (monthlyQuota
   * changed, a group dropped), counted in this run or not: its usage is written again, so that it
   * follows the spec whether or not another call is counted.
   */
  refresh(): void {
    for (const source of this.#services()) {
      const { namespace = '', name = '' } = source.metadata ?? {};
      if (this.#usageOutdated(namespace, name, source)) this.#dirty.add(serviceKey(namespace, name));
    }
    for (const [key, counts] of this.#counts) {
      const [namespace, name] = JSON.parse(key) as [string, string];
      const source = this.#service(namespace, name);
      if (!source || source.metadata?.uid !== counts.uid) {
        this.#counts.delete(key);
        continue;
      }
      const month = this.monthOf(this.#now());
      if ([...counts.buckets.values()].some((c) => c.month !== month)) this.#dirty.add(key);
      this.#notifyIfStateChanged(namespace, name, counts);
    }
  }

  #notifyIfStateChanged(namespace: string, service: string, counts: ServiceCounts): void {
    let changed = false;
    for (const report of this.reports(namespace, service)) {
      const key = bucketKey(report.bucket);
      // A bucket first seen within its quota is no news: the service's own reconcile reports it.
      if ((counts.states.get(key) ?? 'Within') !== report.state) changed = true;
      counts.states.set(key, report.state);
    }
    if (changed) for (const listener of this.#listeners) listener(namespace, service);
  }

  /**
   * The bucket's count this month: from this run's counting, or else from the service's status (a
   * restart, a takeover), and zero in a new month or for a re-created service. Kept from here on, but
   * when only read (`counting` false) for a service with nothing counted or recorded: every service's
   * reconcile reads its report, and most services never call DingTalk in a month.
   */
  #counted({ namespace, service, bucket }: QuotaCall, counting = true): Counted {
    const key = serviceKey(namespace, service);
    const source = this.#service(namespace, service);
    const month = this.monthOf(this.#now());
    const id = bucketKey(bucket);
    let counts = this.#counts.get(key);
    if (counts && source && source.metadata?.uid !== counts.uid) counts = undefined;
    const kept = counts?.buckets.get(id);
    if (kept && kept.month === month) return kept;
    const recorded = fromStatus(source, bucket, month);
    if (!counts) {
      if (!counting && !recorded) return { month, calls: 0 };
      counts = { uid: source?.metadata?.uid, buckets: new Map(), states: new Map() };
      this.#counts.set(key, counts);
    }
    const counted = recorded ?? { month, calls: 0 };
    counts.buckets.set(id, counted);
    return counted;
  }

  #usageOutdated(namespace: string, service: string, source: Readonly<CustomObject>): boolean {
    const usage = (source.status as { usage?: QuotaUsage } | undefined)?.usage;
    // Looked at for every cached service each interval: most have written no usage.
    if (!usage) return false;
    if (usage.app && usage.app.limit !== this.#limit(namespace, service, { kind: 'App' })) return true;
    if (!usage.groups?.length) return false;
    const groups = new Set((source.spec as ServiceSpec | undefined)?.groups?.map((g) => g.name));
    return usage.groups.some(
      (g) =>
        !groups.has(g.name) || g.limit !== this.#limit(namespace, service, { kind: 'Robot', group: g.name }),
    );
  }

  #limit(namespace: string, service: string, bucket: QuotaBucket): number {
    const spec = this.#service(namespace, service)?.spec as ServiceSpec | undefined;
    if (bucket.kind === 'App') return spec?.member?.monthlyQuota ?? FREE_API_CALLS_PER_MONTH;
    const group = spec?.groups?.find((g) => g.name === bucket.group);
    return group?.monthlyQuota ?? FREE_WEBHOOK_CALLS_PER_MONTH;
  }
}

interface ServiceSpec {
  sendTo?: string[];
  groups?: { name?: string; monthlyQuota?: number }[];
  member?: { monthlyQuota?: number };
}

function bucketsOf(service: Readonly<CustomObject> | undefined): QuotaBucket[] {
  const spec = (service?.spec ?? {}) as ServiceSpec;
  const sendTo = spec.sendTo ?? [];
  return [
    ...(sendTo.includes('Group') ? (spec.groups ?? []) : []).map(
      (g): QuotaBucket => ({ kind: 'Robot', group: g.name ?? '' }),
    ),
    ...((sendTo.includes('Member') || sendTo.includes('AppGroup')) && spec.member
      ? [{ kind: 'App' } as const]
      : []),
  ];
}

/** What the service's status says of the bucket this month, when it says anything. */
function fromStatus(
  source: Readonly<CustomObject> | undefined,
  bucket: QuotaBucket,
  month: string,
): Counted | undefined {
  const usage = (source?.status as { usage?: QuotaUsage } | undefined)?.usage;
  const recorded =
    bucket.kind === 'App' ? usage?.app : usage?.groups?.find((group) => group.name === bucket.group);
  if (!recorded || recorded.month !== month) return undefined;
  const exhaustedAt = recorded.exhaustedAt ? Date.parse(recorded.exhaustedAt) : undefined;
  return {
    month,
    calls: recorded.calls,
    ...(exhaustedAt !== undefined && { exhaustedAt, exhaustedLimit: recorded.limit }),
  };
}

export function serviceKey(namespace: string, service: string): string {
  return JSON.stringify([namespace, service]);
}

function bucketKey(bucket: QuotaBucket): string {
  return bucket.kind === 'App' ? 'app' : `robot/${bucket.group}`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
