import { type Logger, pino } from 'pino';
import { isNotFound, toKubeApiError } from '../errors.ts';
import type { KubeHttp } from './kube-http.ts';
import { collectionPath, objectPath } from './kube-path.ts';
import { microTime } from './text.ts';
import { type Clock, sleep, systemClock } from './timers.ts';

/**
 * Leader election on a coordination.k8s.io Lease, following client-go's tools/leaderelection:
 * - a lease counts as held until `leaseDuration` has passed since this process last *saw the record
 *   change* (local clock only, so clock skew between nodes does not matter);
 * - every duration and deadline is measured on the monotonic clock: a wall-clock step must neither
 *   let a follower take over a live leader nor cut a leader's term short, and the wall clock only
 *   dates what is written into the Lease (acquireTime, renewTime);
 * - every write is a replace carrying the resourceVersion read, so of two contenders one gets 409;
 * - the leader renews every retryPeriod; if no renewal succeeds within renewDeadline it stops leading
 *   (onStoppedLeading: the process should exit, as controller-runtime does);
 * - on shutdown the leader releases the lease (empty holder, leaseDurationSeconds 1) so a follower
 *   takes over at its next retry instead of waiting out the lease.
 * renewDeadline < leaseDuration is what keeps two electors from leading at once.
 */

export interface LeaseRecord {
  holderIdentity: string;
  leaseDurationSeconds: number;
  acquireTime: string;
  renewTime: string;
  leaseTransitions: number;
}

export interface StoredLease {
  record: LeaseRecord;
  resourceVersion: string;
}

/** Where the lease lives; a 409 from create or update means another elector wrote first. */
export interface LeaseStore {
  get(): Promise<StoredLease | undefined>;
  create(record: LeaseRecord): Promise<StoredLease>;
  update(record: LeaseRecord, resourceVersion: string): Promise<StoredLease>;
  /** Shown in logs. */
  readonly description: string;
}

export interface LeaderElectorOptions {
  store: LeaseStore;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  logger?: Logger;
  clock?: Clock;
  /** Called once leadership is acquired; the signal aborts when leadership ends. */
  onStartedLeading: (signal: AbortSignal) => void;
  /** Called when leadership is lost (not when released on shutdown): stop work and exit. */
  onStoppedLeading: () => void;
  onNewLeader?: (identity: string) => void;
}

const JITTER = 1.2;

export class LeaderElector {
  readonly #store: LeaseStore;
  readonly #identity: string;
  readonly #leaseDurationMs: number;
  readonly #renewDeadlineMs: number;
  readonly #retryPeriodMs: number;
  readonly #log: Logger;
  readonly #options: LeaderElectorOptions;
  readonly #clock: Clock;

  #observed: StoredLease | undefined;
  #observedRaw = '';
  #observedAt = 0;
  #leading: AbortController | undefined;
  #reportedLeader = '';
  #released = false;

  constructor(options: LeaderElectorOptions) {
    this.#options = options;
    this.#store = options.store;
    this.#clock = options.clock ?? systemClock;
    this.#identity = options.identity;
    this.#leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.#renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.#retryPeriodMs = options.retryPeriodMs ?? 2_000;
    if (
      !(this.#leaseDurationMs > this.#renewDeadlineMs && this.#renewDeadlineMs > this.#retryPeriodMs * JITTER)
    ) {
      throw new Error('leader election needs leaseDuration > renewDeadline > 1.2 × retryPeriod');
    }
    this.#log = (options.logger ?? pino({ level: 'silent' })).child({
      lease: options.store.description,
      identity: options.identity,
    });
  }

  isLeader(): boolean {
    return this.#leading !== undefined && !this.#leading.signal.aborted;
  }

  /**
   * Campaigns until elected, then renews until leadership is lost or `signal` aborts (shutdown, which
   * releases the lease). Resolves when this elector is no longer leading or campaigning.
   */
  async run(signal: AbortSignal): Promise<void> {
    if (!(await this.#acquire(signal))) return;
    this.#leading = new AbortController();
    this.#log.info('became leader');
    this.#options.onStartedLeading(this.#leading.signal);
    const lost = await this.#renewUntilLost(signal);
    this.#leading.abort();
    if (lost) {
      this.#log.error('leader lease lost: could not renew within the renew deadline');
      this.#options.onStoppedLeading();
    } else {
      await this.release();
    }
  }

  /** Gives the lease up if this elector holds it, so a follower can take over at once. */
  async release(): Promise<void> {
    if (this.#released || !this.#observed || this.#observed.record.holderIdentity !== this.#identity) return;
    this.#released = true;
    const now = microTime(this.#clock.wallMs());
    try {
      await this.#store.update(
        {
          holderIdentity: '',
          leaseDurationSeconds: 1,
          acquireTime: now,
          renewTime: now,
          leaseTransitions: this.#observed.record.leaseTransitions,
        },
        this.#observed.resourceVersion,
      );
      this.#log.info('released leader lease');
    } catch (err) {
      this.#log.warn({ err }, 'could not release leader lease; followers wait for it to expire');
    }
  }

  async #acquire(signal: AbortSignal): Promise<boolean> {
    this.#log.info('waiting to become leader');
    while (!signal.aborted) {
      if (await this.#tryAcquireOrRenew()) return true;
      await sleep(this.#retryPeriodMs * (1 + Math.random() * (JITTER - 1)), signal, this.#clock);
    }
    return false;
  }

  /** Resolves true when leadership was lost, false when `signal` ended it. */
  async #renewUntilLost(signal: AbortSignal): Promise<boolean> {
    let lastRenew = this.#clock.monotonicMs();
    while (!signal.aborted) {
      await sleep(this.#retryPeriodMs, signal, this.#clock);
      if (signal.aborted) return false;
      // Retries until the deadline; a hung request counts against the deadline too.
      for (;;) {
        const remaining = lastRenew + this.#renewDeadlineMs - this.#clock.monotonicMs();
        if (remaining <= 0) return true;
        const renewed = await Promise.race([
          this.#tryAcquireOrRenew(),
          sleep(remaining, signal, this.#clock).then(() => false),
        ]);
        if (signal.aborted) return false;
        if (renewed) {
          lastRenew = this.#clock.monotonicMs();
          break;
        }
        await sleep(
          Math.min(
            this.#retryPeriodMs,
            Math.max(0, lastRenew + this.#renewDeadlineMs - this.#clock.monotonicMs()),
          ),
          signal,
          this.#clock,
        );
      }
    }
    return false;
  }

  async #tryAcquireOrRenew(): Promise<boolean> {
    // From the wall clock, so renewals change the record whenever the clock (or a test's fake clock) moved.
    const now = microTime(this.#clock.wallMs());
    const desired: LeaseRecord = {
      holderIdentity: this.#identity,
      leaseDurationSeconds: Math.ceil(this.#leaseDurationMs / 1000),
      acquireTime: now,
      renewTime: now,
      leaseTransitions: 0,
    };
    try {
      const current = await this.#store.get();
      if (!current) {
        this.#observe(await this.#store.create(desired));
        return true;
      }
      const raw = JSON.stringify(current.record);
      if (raw !== this.#observedRaw) this.#observe(current);
      else this.#observed = current;
      const holder = current.record.holderIdentity;
      const expiresAt = this.#observedAt + current.record.leaseDurationSeconds * 1000;
      if (holder !== '' && holder !== this.#identity && this.#clock.monotonicMs() < expiresAt) return false;
      if (holder === this.#identity) {
        desired.acquireTime = current.record.acquireTime;
        desired.leaseTransitions = current.record.leaseTransitions;
      } else {
        desired.leaseTransitions = current.record.leaseTransitions + 1;
      }
      this.#observe(await this.#store.update(desired, current.resourceVersion));
      return true;
    } catch (err) {
      if (toKubeApiError(err)?.status !== 409) this.#log.warn({ err }, 'leader lease read/write failed');
      return false;
    }
  }

  #observe(lease: StoredLease): void {
    this.#observed = lease;
    this.#observedRaw = JSON.stringify(lease.record);
    this.#observedAt = this.#clock.monotonicMs();
    const holder = lease.record.holderIdentity;
    if (holder && holder !== this.#reportedLeader) {
      this.#reportedLeader = holder;
      if (holder !== this.#identity) this.#log.info({ leader: holder }, 'new leader observed');
      this.#options.onNewLeader?.(holder);
    }
  }
}

interface Lease {
  metadata?: { resourceVersion?: string };
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

/** The Lease object in the cluster, read, created and replaced (PUT with the resourceVersion read). */
export function kubeLeaseStore(kube: KubeHttp, namespace: string, name: string): LeaseStore {
  const resource = { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', namespace };
  const collection = collectionPath(resource);
  const path = objectPath({ ...resource, name });
  const fromLease = (lease: Lease): StoredLease => ({
    resourceVersion: lease.metadata?.resourceVersion ?? '',
    record: {
      holderIdentity: lease.spec?.holderIdentity ?? '',
      leaseDurationSeconds: lease.spec?.leaseDurationSeconds ?? 0,
      acquireTime: lease.spec?.acquireTime ?? '',
      renewTime: lease.spec?.renewTime ?? '',
      leaseTransitions: lease.spec?.leaseTransitions ?? 0,
    },
  });
  const lease = (record: LeaseRecord, resourceVersion?: string) => ({
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name, namespace, ...(resourceVersion !== undefined && { resourceVersion }) },
    spec: record,
  });
  return {
    description: `${namespace}/${name}`,
    async get() {
      try {
        return fromLease(await kube.get<Lease>(path));
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    async create(record) {
      return fromLease(await kube.post<Lease>(collection, lease(record)));
    },
    async update(record, resourceVersion) {
      return fromLease(await kube.put<Lease>(path, lease(record, resourceVersion)));
    },
  };
}
