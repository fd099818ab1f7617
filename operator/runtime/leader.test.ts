import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../test/support/fake-clock.ts';
import { KubeApiError } from '../errors.ts';
import { LeaderElector, type LeaseRecord, type LeaseStore, type StoredLease } from './leader.ts';
import { microTime } from './text.ts';
import type { Clock } from './timers.ts';

const HOUR = 3_600_000;
/** The fake wall clock's time at monotonic 0. */
const START = Date.parse('2026-01-01T00:00:00Z');
/** For the test's own calls to the store. */
const never = new AbortController().signal;

/** A Lease with resourceVersion semantics: stale writes get 409, like the API server. */
class MemoryLeaseStore implements LeaseStore {
  readonly description = 'memory/lease';
  lease: StoredLease | undefined;
  failing = false;
  #version = 0;

  async get(_signal: AbortSignal): Promise<StoredLease | undefined> {
    this.#check();
    return this.lease && structuredClone(this.lease);
  }

  async create(record: LeaseRecord, _signal: AbortSignal) {
    this.#check();
    if (this.lease) throw new KubeApiError(409, { reason: 'AlreadyExists' });
    return this.#write(record);
  }

  async update(record: LeaseRecord, current: StoredLease, _signal: AbortSignal): Promise<StoredLease> {
    this.#check();
    if (this.lease?.resourceVersion !== current.resourceVersion)
      throw new KubeApiError(409, { reason: 'Conflict' });
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

function elector(store: LeaseStore, identity: string, clock: Clock) {
  const state = { leading: false, lost: false };
  const instance = new LeaderElector({
    store,
    identity,
    clock,
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

/** The Lease of a leader that vanished without releasing it, last renewed now. */
function vanishedLeader(store: MemoryLeaseStore, clock: FakeClock, leaseTransitions: number) {
  const now = microTime(clock.wallMs());
  return store.create(
    { holderIdentity: 'gone', leaseDurationSeconds: 15, acquireTime: now, renewTime: now, leaseTransitions },
    never,
  );
}

describe('LeaderElector', () => {
  it('elects exactly one of two contenders', async () => {
    const store = new MemoryLeaseStore();
    const clock = new FakeClock(START);
    const a = elector(store, 'a', clock);
    const b = elector(store, 'b', clock);
    for (let second = 0; second < 60; second++) {
      await clock.advance(1000);
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
    const clock = new FakeClock(START);
    await vanishedLeader(store, clock, 3);
    const b = elector(store, 'b', clock);
    await clock.advance(14_000);
    expect(b.state.leading).toBe(false);
    await clock.advance(6_000);
    expect(b.state.leading).toBe(true);
    expect(store.lease?.record).toMatchObject({ holderIdentity: 'b', leaseTransitions: 4 });
    b.stop.abort();
    await b.done;
  });

  it('judges expiry by local observation, not by the renewTime written in the lease', async () => {
    const store = new MemoryLeaseStore();
    const clock = new FakeClock(START);
    const ancient = '2000-01-01T00:00:00.000000Z';
    await store.create(
      {
        holderIdentity: 'other',
        leaseDurationSeconds: 15,
        acquireTime: ancient,
        renewTime: ancient,
        leaseTransitions: 0,
      },
      never,
    );
    const b = elector(store, 'b', clock);
    await clock.advance(5_000);
    expect(b.state.leading).toBe(false);
    b.stop.abort();
    await b.done;
  });

  it('stops leading and reports it when renewals fail for longer than the renew deadline', async () => {
    const store = new MemoryLeaseStore();
    const clock = new FakeClock(START);
    const a = elector(store, 'a', clock);
    await clock.advance(100);
    expect(a.state.leading).toBe(true);
    store.failing = true;
    await clock.advance(9_000);
    expect(a.state.lost).toBe(false);
    await clock.advance(4_000);
    expect(a.state.lost).toBe(true);
    expect(a.state.leading).toBe(false);
    await a.done;
  });

  it('loses leadership when another elector overwrote the lease', async () => {
    const store = new MemoryLeaseStore();
    const clock = new FakeClock(START);
    const a = elector(store, 'a', clock);
    await clock.advance(100);
    const lease = store.lease as StoredLease;
    await store.update({ ...lease.record, holderIdentity: 'intruder' }, lease, never);
    await clock.advance(13_000);
    expect(a.state.lost).toBe(true);
    await a.done;
  });

  it('releases the lease on shutdown so a follower takes over within a retry period', async () => {
    const store = new MemoryLeaseStore();
    const clock = new FakeClock(START);
    const a = elector(store, 'a', clock);
    await clock.advance(100);
    const b = elector(store, 'b', clock);
    await clock.advance(5_000);
    expect(b.state.leading).toBe(false);

    a.stop.abort();
    await a.done;
    expect(store.lease?.record).toMatchObject({ holderIdentity: '', leaseDurationSeconds: 1 });
    expect(a.state.lost).toBe(false);
    await clock.advance(3_000);
    expect(b.state.leading).toBe(true);
    b.stop.abort();
    await b.done;
  });
});

/** A leader on another node, renewing every `periodMs` by its own clock, which no step touches. */
function remoteLeader(store: MemoryLeaseStore, clock: FakeClock, periodMs: number) {
  let renewals = 0;
  const renew = async () => {
    const lease = store.lease as StoredLease;
    const renewTime = microTime(START + ++renewals * periodMs);
    await store.update({ ...lease.record, renewTime }, lease, never);
    clock.timer(periodMs, renew);
  };
  return store
    .create(
      {
        holderIdentity: 'remote',
        leaseDurationSeconds: 15,
        acquireTime: microTime(clock.wallMs()),
        renewTime: microTime(clock.wallMs()),
        leaseTransitions: 0,
      },
      never,
    )
    .then(() => clock.timer(periodMs, renew));
}

describe.each([
  ['forwards', HOUR],
  ['backwards', -HOUR],
])('LeaderElector when the wall clock steps an hour %s', (_, step) => {
  it('a follower does not take over a leader that keeps renewing', async () => {
    const store = new MemoryLeaseStore();
    const clock = new FakeClock(START);
    // Renewing less often than the follower looks, so most looks find the record unchanged.
    await remoteLeader(store, clock, 5_000);
    const b = elector(store, 'b', clock);
    await clock.advance(7_000);
    clock.stepWall(step);
    for (let second = 0; second < 60; second++) {
      await clock.advance(1000);
      expect(b.state.leading).toBe(false);
    }
    expect(store.lease?.record.holderIdentity).toBe('remote');
    b.stop.abort();
    await b.done;
  });

  it('a follower takes over a vanished leader once the lease duration has passed, no sooner or later', async () => {
    const store = new MemoryLeaseStore();
    const clock = new FakeClock(START);
    await vanishedLeader(store, clock, 0);
    const b = elector(store, 'b', clock);
    await clock.advance(1_000);
    clock.stepWall(step);
    await clock.advance(13_000);
    expect(b.state.leading).toBe(false);
    await clock.advance(6_000);
    expect(b.state.leading).toBe(true);
    b.stop.abort();
    await b.done;
  });

  it('the leader keeps leading while its renewals succeed, and writes the wall time', async () => {
    const store = new MemoryLeaseStore();
    const clock = new FakeClock(START);
    const a = elector(store, 'a', clock);
    await clock.advance(3_000);
    expect(a.state.leading).toBe(true);
    clock.stepWall(step);
    for (let second = 0; second < 60; second++) {
      await clock.advance(1000);
      expect(a.state.leading).toBe(true);
    }
    expect(a.state.lost).toBe(false);
    const renewed = Date.parse(store.lease?.record.renewTime ?? '');
    expect(clock.wallMs() - renewed).toBeLessThan(10_000);
    a.stop.abort();
    await a.done;
  });

  it('the leader stops by its renew deadline when renewals fail', async () => {
    const store = new MemoryLeaseStore();
    const clock = new FakeClock(START);
    const a = elector(store, 'a', clock);
    await clock.advance(3_000);
    expect(a.state.leading).toBe(true);
    clock.stepWall(step);
    store.failing = true;
    // Renewed last at 2 s: the deadline is 12 s, three seconds before a follower would take over.
    await clock.advance(8_000);
    expect(a.state.lost).toBe(false);
    await clock.advance(2_000);
    expect(a.state.lost).toBe(true);
    expect(a.state.leading).toBe(false);
    await a.done;
  });
});

/** Calls that never answer, as on a dead keep-alive connection; each one's signal is kept. */
const hang = (signals: AbortSignal[], signal: AbortSignal) => {
  signals.push(signal);
  return new Promise<never>(() => undefined);
};

describe('LeaderElector with a call that never answers', () => {
  it('stops leading at the renew deadline and aborts the renewal', async () => {
    const store = new MemoryLeaseStore();
    const clock = new FakeClock(START);
    const a = elector(store, 'a', clock);
    await clock.advance(3_000);
    expect(a.state.leading).toBe(true);
    const hung: AbortSignal[] = [];
    store.update = (_record, _current, signal) => hang(hung, signal);
    // Renewed last at 2 s; the renewal at 4 s hangs; the deadline is 12 s.
    await clock.advance(8_000);
    expect(a.state.lost).toBe(false);
    expect(hung).toHaveLength(1);
    expect(hung[0]?.aborted).toBe(false);
    await clock.advance(2_000);
    expect(a.state.lost).toBe(true);
    expect(a.state.leading).toBe(false);
    expect(hung[0]?.aborted).toBe(true);
    await a.done;
  });

  it('gives up a hung read while campaigning and campaigns on', async () => {
    const store = new MemoryLeaseStore();
    const clock = new FakeClock(START);
    const hung: AbortSignal[] = [];
    const get = store.get.bind(store);
    store.get = (signal) => (hung.length === 0 ? hang(hung, signal) : get(signal));
    const b = elector(store, 'b', clock);
    await clock.advance(15_000);
    expect(hung[0]?.aborted).toBe(true);
    expect(b.state.leading).toBe(true);
    b.stop.abort();
    await b.done;
  });

  it('ends on shutdown within the renew deadline when the release hangs', async () => {
    const store = new MemoryLeaseStore();
    const clock = new FakeClock(START);
    const a = elector(store, 'a', clock);
    await clock.advance(3_000);
    const hung: AbortSignal[] = [];
    store.update = (_record, _current, signal) => hang(hung, signal);
    let ended = false;
    void a.done.then(() => {
      ended = true;
    });
    a.stop.abort();
    await clock.advance(10_000);
    expect(ended).toBe(true);
    expect(hung[0]?.aborted).toBe(true);
  });
});
