import { CoordinationV1Api, CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeLeaseStore, LeaderElector } from '../../operator/runtime/leader.ts';
import { microTime } from '../../operator/runtime/text.ts';
import { createTestNamespace, eventually, testKubeConfig, testKubeHttp } from '../support/kube.ts';

/** Short timings keep the test quick; the algorithm is the same as with 15s/10s/2s. */
const timings = { leaseDurationMs: 4000, renewDeadlineMs: 3000, retryPeriodMs: 500 };

describe('leader election on a Lease in the API server', () => {
  const kubeConfig = testKubeConfig();
  const kube = testKubeHttp();
  let namespace: string;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    ({ name: namespace, cleanup } = await createTestNamespace('leader'));
  });
  afterAll(async () => {
    await cleanup();
  });

  function contender(identity: string, leaseName: string, { partitionable = false } = {}) {
    const state = { leading: false, lost: false, everLed: false, startedAt: 0, stoppedAt: 0 };
    const stop = new AbortController();
    const store = kubeLeaseStore(kube, namespace, leaseName);
    let partitioned = false;
    const hang = () => new Promise<never>(() => undefined);
    const elector = new LeaderElector({
      store: partitionable
        ? {
            description: store.description,
            get: (signal) => (partitioned ? hang() : store.get(signal)),
            create: (record, signal) => (partitioned ? hang() : store.create(record, signal)),
            update: (record, current, signal) =>
              partitioned ? hang() : store.update(record, current, signal),
          }
        : store,
      identity,
      ...timings,
      onStartedLeading: (signal) => {
        state.leading = true;
        state.everLed = true;
        state.startedAt = performance.now();
        signal.addEventListener('abort', () => {
          state.leading = false;
        });
      },
      onStoppedLeading: () => {
        state.lost = true;
        state.stoppedAt = performance.now();
      },
    });
    const done = elector.run(stop.signal);
    return {
      identity,
      state,
      stop,
      done,
      partition: () => {
        partitioned = true;
      },
    };
  }

  const lease = async (leaseName: string) =>
    (await kubeConfig.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: leaseName, namespace }))
      .spec;
  const holder = async (leaseName: string) => (await lease(leaseName))?.holderIdentity;

  it('lets exactly one of two electors lead', async () => {
    const a = contender('a', 'one-leader');
    const b = contender('b', 'one-leader');
    const leader = await eventually(() => [a, b].find((c) => c.state.leading));
    const follower = leader === a ? b : a;
    // Watch both for a few renew cycles: never two leaders at once.
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline) {
      expect(Number(a.state.leading) + Number(b.state.leading)).toBe(1);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(await holder('one-leader')).toBe(leader.identity);
    expect(follower.state.everLed).toBe(false);
    a.stop.abort();
    b.stop.abort();
    await Promise.all([a.done, b.done]);
  });

  it('hands over to the follower after the leader stops renewing, and the old leader steps down first', async () => {
    const a = contender('a', 'partitioned', { partitionable: true });
    await eventually(() => (a.state.leading ? true : undefined));
    const b = contender('b', 'partitioned');
    // The leader loses the API server: its requests hang from now on.
    a.partition();
    await eventually(() => (b.state.leading ? true : undefined), { timeoutMs: 30_000 });
    expect(a.state.lost).toBe(true);
    expect(a.state.stoppedAt).toBeLessThanOrEqual(b.state.startedAt);
    expect(await holder('partitioned')).toBe('b');
    b.stop.abort();
    await Promise.all([a.done, b.done]);
  });

  it('releases the lease on shutdown, and a follower takes it', async () => {
    const a = contender('a', 'released');
    await eventually(() => (a.state.leading ? true : undefined));
    a.stop.abort();
    await a.done;
    expect(a.state.lost).toBe(false);
    // Released, not left to expire: an empty holder and a one-second duration, which the next elector's
    // first retry takes (how soon is the unit test's business, on a fake clock).
    expect(await lease('released')).toMatchObject({ holderIdentity: '', leaseDurationSeconds: 1 });
    const b = contender('b', 'released');
    await eventually(() => (b.state.leading ? true : undefined), { timeoutMs: 30_000 });
    expect(await holder('released')).toBe('b');
    b.stop.abort();
    await b.done;
  });

  it('keeps what else the Lease holds through acquisition, renewals and release', async () => {
    const coordination = kubeConfig.makeApiClient(CoordinationV1Api);
    const owner = await kubeConfig
      .makeApiClient(CoreV1Api)
      .createNamespacedConfigMap({ namespace, body: { metadata: { name: 'lease-owner' } } });
    const labels = { app: 'dingtalk-operator', team: 'ops' };
    const annotations = { 'example.com/note': 'set by someone else' };
    const ownerReference = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      name: 'lease-owner',
      uid: owner.metadata?.uid ?? '',
    };
    // Spec fields this code does not know (coordinated leader election's).
    const newerSpec = { preferredHolder: 'a', strategy: 'OldestEmulationVersion' };
    await coordination.createNamespacedLease({
      namespace,
      body: {
        metadata: { name: 'kept', labels, annotations, ownerReferences: [ownerReference] },
        spec: newerSpec,
      },
    });
    const kept = (found: Awaited<ReturnType<typeof coordination.readNamespacedLease>>) => {
      expect(found.metadata?.labels).toEqual(labels);
      expect(found.metadata?.annotations).toEqual(annotations);
      expect(found.metadata?.ownerReferences).toEqual([ownerReference]);
      expect(found.spec).toMatchObject(newerSpec);
    };

    const a = contender('a', 'kept');
    await eventually(() => (a.state.leading ? true : undefined));
    const acquired = await coordination.readNamespacedLease({ name: 'kept', namespace });
    expect(acquired.spec?.holderIdentity).toBe('a');
    kept(acquired);
    const renewed = await eventually(async () => {
      const found = await coordination.readNamespacedLease({ name: 'kept', namespace });
      return String(found.spec?.renewTime) !== String(acquired.spec?.renewTime) ? found : undefined;
    });
    expect(renewed.spec?.holderIdentity).toBe('a');
    kept(renewed);

    a.stop.abort();
    await a.done;
    const released = await coordination.readNamespacedLease({ name: 'kept', namespace });
    expect(released.spec).toMatchObject({ holderIdentity: '', leaseDurationSeconds: 1 });
    kept(released);
  });

  it('cuts a Lease call off when its deadline has passed, before it reaches the API server', async () => {
    const store = kubeLeaseStore(kube, namespace, 'cut-off');
    const live = new AbortController().signal;
    const now = microTime(Date.now());
    const record = {
      holderIdentity: 'a',
      leaseDurationSeconds: 4,
      acquireTime: now,
      renewTime: now,
      leaseTransitions: 0,
    };
    const created = await store.create(record, live);
    const passed = AbortSignal.abort(new Error('renew deadline passed'));
    await expect(store.get(passed)).rejects.toThrow('renew deadline passed');
    await expect(store.update({ ...record, holderIdentity: 'b' }, created, passed)).rejects.toThrow(
      'renew deadline passed',
    );
    expect(await holder('cut-off')).toBe('a');
  });
});
