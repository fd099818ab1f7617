import type { Lease } from 'kubernetes-types/coordination/v1.js';
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
 * - every write replaces the object read, with its resourceVersion, so of two contenders one gets 409,
 *   and what else the Lease holds (labels, owner references, newer spec fields) is written back as read;
 * - each attempt gives up when the renew deadline passes, aborting its requests, so a call that never
 *   answers cannot keep a leader leading past it;
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

/**
 * Where the lease lives; a 409 from create or update means another elector wrote first. Each call
 * should give up when its signal aborts (the renew deadline), so that no request outlives the term.
 */
export interface LeaseStore {
  get(signal: AbortSignal): Promise<StoredLease | undefined>;
  create(record: LeaseRecord, signal: AbortSignal): Promise<StoredLease>;
  /**
   * Replaces `current`, as get, create or update returned it, carrying its resourceVersion; only the
   * record changes, so whatever else the stored object holds (labels, annotations, owner references,
   * spec fields newer than this code) survives.
   */
  update(record: LeaseRecord, current: StoredLease, signal: AbortSignal): Promise<StoredLease>;
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
    const acquiredAt = await this.#acquire(signal);
    if (acquiredAt === undefined) return;
    this.#leading = new AbortController();
    this.#log.info('became leader');
    this.#options.onStartedLeading(this.#leading.signal);
    const lost = await this.#renewUntilLost(signal, acquiredAt);
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
    const observed = this.#observed;
    if (this.#released || !observed || observed.record.holderIdentity !== this.#identity) return;
    this.#released = true;
    const now = microTime(this.#clock.wallMs());
    const released: LeaseRecord = {
      holderIdentity: '',
      leaseDurationSeconds: 1,
      acquireTime: now,
      renewTime: now,
      leaseTransitions: observed.record.leaseTransitions,
    };
    try {
      // Bounded so that a dead connection cannot hold up the shutdown waiting on it.
      await this.#bounded(this.#renewDeadlineMs, (deadline) =>
        this.#store.update(released, observed, deadline),
      );
      this.#log.info('released leader lease');
    } catch (err) {
      this.#log.warn({ err }, 'could not release leader lease; followers wait for it to expire');
    }
  }

  /** Resolves with the monotonic time the winning attempt started, or undefined when `signal` aborted. */
  async #acquire(signal: AbortSignal): Promise<number | undefined> {
    this.#log.info('waiting to become leader');
    while (!signal.aborted) {
      const started = this.#clock.monotonicMs();
      // The renew deadline bounds a campaign's attempt too, so a dead connection cannot stall it.
      if (await this.#tryAcquireOrRenew(this.#renewDeadlineMs)) return started;
      await sleep(this.#retryPeriodMs * (1 + Math.random() * (JITTER - 1)), signal, this.#clock);
    }
    return undefined;
  }

  /**
   * Resolves true when leadership was lost, false when `signal` ended it. The deadline runs from when the
   * last successful renewal was sent: a follower saw that write no earlier, so this stops first.
   */
  async #renewUntilLost(signal: AbortSignal, renewedAt: number): Promise<boolean> {
    let lastRenew = renewedAt;
    while (!signal.aborted) {
      await sleep(this.#retryPeriodMs, signal, this.#clock);
      for (;;) {
        if (signal.aborted) return false;
        const started = this.#clock.monotonicMs();
        const remaining = lastRenew + this.#renewDeadlineMs - started;
        if (remaining <= 0) return true;
        if (await this.#tryAcquireOrRenew(remaining)) {
          lastRenew = started;
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

  /** One attempt, given up (false) when `deadlineMs` passes, as any failed attempt is. */
  async #tryAcquireOrRenew(deadlineMs: number): Promise<boolean> {
    try {
      return await this.#bounded(deadlineMs, (deadline) => this.#acquireOrRenew(deadline));
    } catch (err) {
      if (toKubeApiError(err)?.status !== 409) this.#log.warn({ err }, 'leader lease read/write failed');
      return false;
    }
  }

  /** False when another elector holds the lease and it has not run out yet. */
  async #acquireOrRenew(deadline: AbortSignal): Promise<boolean> {
    // From the wall clock, so renewals change the record whenever the clock (or a test's fake clock) moved.
    const now = microTime(this.#clock.wallMs());
    const desired: LeaseRecord = {
      holderIdentity: this.#identity,
      leaseDurationSeconds: Math.ceil(this.#leaseDurationMs / 1000),
      acquireTime: now,
      renewTime: now,
      leaseTransitions: 0,
    };
    const current = await this.#store.get(deadline);
    if (!current) {
      this.#observe(await this.#store.create(desired, deadline));
      return true;
    }
    if (JSON.stringify(current.record) !== this.#observedRaw) this.#observe(current);
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
    this.#observe(await this.#store.update(desired, current, deadline));
    return true;
  }

  /**
   * Runs `call` with a signal that aborts once `ms` have passed, and settles by then even if `call`
   * does not heed it: leading must not outlast the deadline on a store that ignores the signal.
   */
  async #bounded<T>(ms: number, call: (deadline: AbortSignal) => Promise<T>): Promise<T> {
    const deadline = new AbortController();
    const passed = new Promise<never>((_, reject) => {
      deadline.signal.addEventListener('abort', () => reject(deadline.signal.reason), { once: true });
    });
    const cancel = this.#clock.timer(ms, () =>
      deadline.abort(new Error(`no answer from the lease store within ${Math.round(ms)} ms`)),
    );
    try {
      return await Promise.race([call(deadline.signal), passed]);
    } finally {
      cancel();
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

/**
 * The Lease object in the cluster, read, created and replaced: a PUT of the object read, its
 * resourceVersion included, with only the record's fields of the spec changed.
 */
export function kubeLeaseStore(kube: KubeHttp, namespace: string, name: string): LeaseStore {
  const resource = { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', namespace };
  const collection = collectionPath(resource);
  const path = objectPath({ ...resource, name });
  // The whole object behind each StoredLease handed out, for update to write back.
  const objects = new WeakMap<StoredLease, Lease>();
  const fromLease = (lease: Lease): StoredLease => {
    const stored = {
      resourceVersion: lease.metadata?.resourceVersion ?? '',
      record: {
        holderIdentity: lease.spec?.holderIdentity ?? '',
        leaseDurationSeconds: lease.spec?.leaseDurationSeconds ?? 0,
        acquireTime: lease.spec?.acquireTime ?? '',
        renewTime: lease.spec?.renewTime ?? '',
        leaseTransitions: lease.spec?.leaseTransitions ?? 0,
      },
    };
    objects.set(stored, lease);
    return stored;
  };
  return {
    description: `${namespace}/${name}`,
    async get(signal) {
      try {
        return fromLease(await kube.get<Lease>(path, { signal }));
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    async create(record, signal) {
      const lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name, namespace },
        spec: record,
      };
      return fromLease(await kube.post<Lease>(collection, lease, { signal }));
    },
    async update(record, current, signal) {
      const lease = objects.get(current);
      if (!lease) throw new Error(`lease ${namespace}/${name}: update needs a lease this store returned`);
      return fromLease(
        await kube.put<Lease>(path, { ...lease, spec: { ...lease.spec, ...record } }, { signal }),
      );
    },
  };
}
