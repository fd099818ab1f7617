import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { KubeApiError } from '../errors.ts';
import { LeaderElector, type LeaseRecord, type LeaseStore, type StoredLease } from './leader.ts';

/** A Lease with resourceVersion semantics: stale writes get 409, like the API server. */
class MemoryLeaseStore implements LeaseStore {
  readonly description = 'memory/lease';
  lease: StoredLease | undefined;
  failing = false;
  #version = 0;

  async get() {
    this.#check();
    return this.lease && structuredClone(this.lease);
  }

  async create(record: LeaseRecord) {
    this.#check();
    if (this.lease) throw new KubeApiError(409, { reason: 'AlreadyExists' });
    return this.#write(record);
  }

  async update(record: LeaseRecord, resourceVersion: string) {
    this.#check();
    if (this.lease?.resourceVersion !== resourceVersion) throw new KubeApiError(409, { reason: 'Conflict' });
    return this.#write(record);
  }

  #check() {
    if (this.failing) throw new Error('connection refused');
  }

  #write(record: LeaseRecord) {
    this.lease = { record: structuredClone(record), resourceVersion: String(++this.#version) };
    return structuredClone(this.lease);
  }
}

function elector(store: LeaseStore, identity: string) {
  const state = { leading: false, lost: false };
  const instance = new LeaderElector({
    store,
    identity,
    leaseDurationMs: 15_000,
    renewDeadlineMs: 10_000,
    retryPeriodMs: 2_000,
    onStartedLeading: (signal) => {
      state.leading = true;
      signal.addEventListener('abort', () => {
        state.leading = false;
      });
    },
    onStoppedLeading: () => {
      state.lost = true;
    },
  });
  const stop = new AbortController();
  const done = instance.run(stop.signal);
  return { instance, state, stop, done };
}

describe('LeaderElector', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('elects exactly one of two contenders', async () => {
    const store = new MemoryLeaseStore();
    const a = elector(store, 'a');
    const b = elector(store, 'b');
    for (let second = 0; second < 60; second++) {
      await vi.advanceTimersByTimeAsync(1000);
      expect(Number(a.state.leading) + Number(b.state.leading)).toBe(1);
    }
    expect(store.lease?.record.holderIdentity).toBe(a.state.leading ? 'a' : 'b');
    expect(store.lease?.record.leaseTransitions).toBe(0);
    a.stop.abort();
    b.stop.abort();
    await Promise.all([a.done, b.done]);
  });

  it('takes over only after the lease duration has passed since the record last changed', async () => {
    const store = new MemoryLeaseStore();
    const now = new Date().toISOString();
    // A leader that vanished without releasing.
    await store.create({
      holderIdentity: 'gone',
      leaseDurationSeconds: 15,
      acquireTime: now,
      renewTime: now,
      leaseTransitions: 3,
    });
    const b = elector(store, 'b');
    await vi.advanceTimersByTimeAsync(14_000);
    expect(b.state.leading).toBe(false);
    await vi.advanceTimersByTimeAsync(6_000);
    expect(b.state.leading).toBe(true);
    expect(store.lease?.record).toMatchObject({ holderIdentity: 'b', leaseTransitions: 4 });
    b.stop.abort();
    await b.done;
  });

  it('judges expiry by local observation, not by the renewTime written in the lease', async () => {
    const store = new MemoryLeaseStore();
    const ancient = '2000-01-01T00:00:00.000000Z';
    await store.create({
      holderIdentity: 'other',
      leaseDurationSeconds: 15,
      acquireTime: ancient,
      renewTime: ancient,
      leaseTransitions: 0,
    });
    const b = elector(store, 'b');
    await vi.advanceTimersByTimeAsync(5_000);
    expect(b.state.leading).toBe(false);
    b.stop.abort();
    await b.done;
  });

  it('stops leading and reports it when renewals fail for longer than the renew deadline', async () => {
    const store = new MemoryLeaseStore();
    const a = elector(store, 'a');
    await vi.advanceTimersByTimeAsync(100);
    expect(a.state.leading).toBe(true);
    store.failing = true;
    await vi.advanceTimersByTimeAsync(9_000);
    expect(a.state.lost).toBe(false);
    await vi.advanceTimersByTimeAsync(4_000);
    expect(a.state.lost).toBe(true);
    expect(a.state.leading).toBe(false);
    await a.done;
  });

  it('loses leadership when another elector overwrote the lease', async () => {
    const store = new MemoryLeaseStore();
    const a = elector(store, 'a');
    await vi.advanceTimersByTimeAsync(100);
    const lease = store.lease as StoredLease;
    await store.update({ ...lease.record, holderIdentity: 'intruder' }, lease.resourceVersion);
    await vi.advanceTimersByTimeAsync(13_000);
    expect(a.state.lost).toBe(true);
    await a.done;
  });

  it('releases the lease on shutdown so a follower takes over within a retry period', async () => {
    const store = new MemoryLeaseStore();
    const a = elector(store, 'a');
    await vi.advanceTimersByTimeAsync(100);
    const b = elector(store, 'b');
    await vi.advanceTimersByTimeAsync(5_000);
    expect(b.state.leading).toBe(false);

    a.stop.abort();
    await a.done;
    expect(store.lease?.record).toMatchObject({ holderIdentity: '', leaseDurationSeconds: 1 });
    expect(a.state.lost).toBe(false);
    await vi.advanceTimersByTimeAsync(3_000);
    expect(b.state.leading).toBe(true);
    b.stop.abort();
    await b.done;
  });
});
