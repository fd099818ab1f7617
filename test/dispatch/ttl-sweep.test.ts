import { CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALARM_EVENT_PLURAL, API_VERSION, GROUP, VERSION } from '../../operator/api/index.ts';
import { TtlSweeper } from '../../operator/dispatch/ttl-sweeper.ts';
import type { CustomObject, OperatorContext } from '../../operator/manager/context.ts';
import { createTestNamespace, eventually, testKubeConfig, testKubeHttp } from '../support/kube.ts';
import { create, get, useDispatch } from './harness.ts';

const TTL_MS = 60_000;
const api = testKubeConfig().makeApiClient(CustomObjectsApi);
let namespace: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ name: namespace, cleanup } = await createTestNamespace('ttl'));
});
afterAll(async () => {
  await cleanup?.();
});

const target = (name: string) => ({
  group: GROUP,
  version: VERSION,
  namespace,
  plural: ALARM_EVENT_PLURAL,
  name,
});
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** An AlarmEvent whose ledger says it finished (and, resolved, recorded its resolve) an hour ago. */
async function finishedEvent(name: string, state: 'firing' | 'resolved'): Promise<void> {
  await api.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace,
    plural: ALARM_EVENT_PLURAL,
    body: {
      apiVersion: API_VERSION,
      kind: 'AlarmEvent',
      metadata: { name },
      spec: { severity: 'warning', title: name, state },
    },
  });
  const hourAgo = `${new Date(Date.now() - 3_600_000).toISOString().slice(0, 19)}Z`;
  const conditions = [
    {
      type: 'Delivered',
      status: 'False',
      reason: 'NoMatchingRule',
      message: 'no AlarmRule matches this alarm',
      lastTransitionTime: hourAgo,
    },
    ...(state === 'resolved'
      ? [
          {
            type: 'Resolved',
            status: 'True',
            reason: 'ResolvedNotification',
            message: 'recorded',
            lastTransitionTime: hourAgo,
          },
        ]
      : []),
  ];
  await api.patchNamespacedCustomObjectStatus(
    {
      ...target(name),
      body: { status: { phase: 'NoMatchingRule', finishedAt: hourAgo, deliveries: [], conditions } },
    },
    mergePatch,
  );
}

async function read(name: string): Promise<CustomObject> {
  return (await api.getNamespacedCustomObject(target(name))) as CustomObject;
}

async function exists(name: string): Promise<boolean> {
  return read(name).then(
    () => true,
    (err: { code?: number }) => {
      if (err.code === 404) return false;
      throw err;
    },
  );
}

/** A sweeper whose cache holds `snapshot`: objects as read from the API server, maybe stale by now. */
function sweeperOver(snapshot: CustomObject[]): TtlSweeper {
  const ctx = {
    config: { eventTtl: TTL_MS },
    logger: pino({ level: 'silent' }),
    kube: testKubeHttp(),
    caches: { alarms: { list: () => snapshot, informers: [] } },
  } as unknown as OperatorContext;
  return new TtlSweeper(ctx);
}

describe('TTL sweep of AlarmEvents', () => {
  it('deletes a resolved event finished longer ago than the TTL', async () => {
    await finishedEvent('resolved-old', 'resolved');
    expect(await sweeperOver([await read('resolved-old')]).sweep()).toBe(1);
    expect(await exists('resolved-old')).toBe(false);
  });

  it('keeps a firing event however long ago its deliveries finished: it keeps its identity while it fires', async () => {
    await finishedEvent('long-firing', 'firing');
    const sweeper = sweeperOver([await read('long-firing')]);
    expect(await sweeper.sweep(Date.now() + 365 * 24 * 3_600_000)).toBe(0);
    expect(await exists('long-firing')).toBe(true);
  });

  it('leaves an event changed between the cache read and the delete for the next sweep', async () => {
    await finishedEvent('changed-meanwhile', 'resolved');
    const stale = await read('changed-meanwhile');
    // The source fires again after the sweeper read its cache.
    await api.patchNamespacedCustomObject(
      { ...target('changed-meanwhile'), body: { spec: { state: 'firing' } } },
      mergePatch,
    );
    expect(await sweeperOver([stale]).sweep()).toBe(0);
    expect((await read('changed-meanwhile')).spec).toMatchObject({ state: 'firing' });
  });
});

describe('the running operator’s TTL sweep', () => {
  // A 1-minute TTL makes the sweeper look every 6 s.
  const h = useDispatch({}, ['--event-ttl', '1m']);

  /** Back-dates an event's finish (and its resolve, if recorded) past the TTL. */
  async function finishedLongAgo(name: string, state: 'firing' | 'resolved'): Promise<void> {
    await create(h, 'AlarmEvent', name, { severity: 'info', title: name, source: 'nowhere', state });
    const conditions = await eventually(async () => {
      const { status } = await get(h, 'AlarmEvent', name);
      const found = status?.conditions as { type: string }[] | undefined;
      const recorded = state === 'firing' || found?.some((c) => c.type === 'Resolved');
      return status?.finishedAt && recorded ? found : undefined;
    });
    const longAgo = new Date(Date.now() - 3_600_000).toISOString();
    await h.api.patchNamespacedCustomObjectStatus(
      {
        group: GROUP,
        version: VERSION,
        namespace: h.namespace,
        plural: ALARM_EVENT_PLURAL,
        name,
        body: {
          status: {
            finishedAt: longAgo,
            conditions: (conditions ?? []).map((c) => ({ ...c, lastTransitionTime: longAgo })),
          },
        },
      },
      mergePatch,
    );
  }

  it('keeps a firing event finished long ago while it deletes a resolved one finished at the same time', async () => {
    await finishedLongAgo('still-firing', 'firing');
    await finishedLongAgo('resolved-long-ago', 'resolved');
    await eventually(
      async () =>
        get(h, 'AlarmEvent', 'resolved-long-ago').then(
          () => undefined,
          (err: { code?: number }) => (err.code === 404 ? true : undefined),
        ),
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    expect((await get(h, 'AlarmEvent', 'still-firing')).spec).toMatchObject({ state: 'firing' });
  });
});
