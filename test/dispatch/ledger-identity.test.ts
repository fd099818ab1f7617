import { CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ALARM_EVENT_PLURAL, type AlarmEventStatus, GROUP, VERSION } from '../../operator/api/index.ts';
import { EventStatusStore } from '../../operator/dispatch/event-status.ts';
import { StatusWriter } from '../../operator/runtime/status.ts';
import { eventually, testKubeConfig, testKubeHttp } from '../support/kube.ts';
import { create, type DispatchHarness, get, groupService, tokenFor, useDispatch } from './harness.ts';

const h = useDispatch();
const api = testKubeConfig().makeApiClient(CustomObjectsApi);
const target = (name: string) => ({
  group: GROUP,
  version: VERSION,
  namespace: h.namespace,
  plural: ALARM_EVENT_PLURAL,
  name,
});

type Meta = { uid: string; resourceVersion: string };

async function createEvent(name: string, source = 'nowhere-source'): Promise<Meta> {
  await create(h, 'AlarmEvent', name, { severity: 'warning', title: name, source });
  return (await get(h, 'AlarmEvent', name)).metadata as Meta;
}

/** Deletes the event and waits until the API server no longer has it. */
async function remove(harness: DispatchHarness, name: string): Promise<void> {
  await api.deleteNamespacedCustomObject(target(name));
  await eventually(() =>
    get(harness, 'AlarmEvent', name).then(
      () => undefined,
      () => true,
    ),
  );
}

/** A ledger store writing to the real API server as dispatch does, outside the running operator. */
function storeOf(): EventStatusStore {
  const writer = new StatusWriter(
    testKubeHttp(),
    { group: GROUP, version: VERSION, plural: ALARM_EVENT_PLURAL },
    { guardIdentity: true },
  );
  return new EventStatusStore({ writer, logger: pino({ level: 'silent' }) });
}

const oldLedger = (status: AlarmEventStatus) => {
  status.deliveries = [
    {
      ruleNamespace: h.namespace,
      rule: 'old-rule',
      service: 'old-service',
      targetKind: 'Group',
      targetName: 'ops',
      state: 'Delivering',
      msgUuid: 'old-msg-uuid',
    },
  ];
};

const rulesIn = (status: unknown) =>
  ((status as AlarmEventStatus | undefined)?.deliveries ?? []).map((d) => d.rule);

describe('AlarmEvent ledger writes carry the identity of the event they are for', () => {
  it('drops a write pending for an event deleted and re-created under its name, and never retries it onto the new one', async () => {
    const name = 'reused-pending';
    const old = await createEvent(name);
    const store = storeOf();
    const key = `${h.namespace}/${name}`;
    store.track(key, { name, namespace: h.namespace, ...old, generation: 1 }, {});
    await remove(h, name);
    const renewed = await createEvent(name);
    expect(renewed.uid).not.toBe(old.uid);

    store.update(key, oldLedger);
    expect(await store.persist([key])).toBe(false);
    expect(store.get(key)).toBeUndefined();
    expect(rulesIn((await get(h, 'AlarmEvent', name)).status)).not.toContain('old-rule');
  });

  it('still writes to the same event when it changed since its version was read', async () => {
    const name = 'changed-spec';
    const read = await createEvent(name);
    const store = storeOf();
    const key = `${h.namespace}/${name}`;
    store.track(key, { name, namespace: h.namespace, ...read, generation: 1 }, {});
    await api.patchNamespacedCustomObject(
      { ...target(name), body: { spec: { state: 'resolved' } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    // The running operator records the change as well: its write must come before this store's, not
    // between that and the read below.
    await eventually(async () =>
      (await get(h, 'AlarmEvent', name)).status?.observedGeneration === 2 ? true : undefined,
    );
    store.update(key, oldLedger);
    expect(await store.persist([key])).toBe(true);
    expect(rulesIn((await get(h, 'AlarmEvent', name)).status)).toEqual(['old-rule']);
    // Its ledger was written by the test, for a rule that never existed: nothing is left to settle it.
    await remove(h, name);
  });

  it('tracks a re-created event from its own status, not the ledger still pending for the old one', async () => {
    const name = 'reused-tracked';
    const old = await createEvent(name);
    const store = storeOf();
    const key = `${h.namespace}/${name}`;
    store.track(key, { name, namespace: h.namespace, ...old, generation: 1 }, {});
    store.update(key, oldLedger);
    await remove(h, name);
    const renewed = await createEvent(name);
    expect(store.get(key, renewed.uid)).toBeUndefined();
    expect(store.track(key, { name, namespace: h.namespace, ...renewed, generation: 1 }, {})).toEqual({});
    expect(await store.persist([key])).toBe(true);
    expect(rulesIn((await get(h, 'AlarmEvent', name)).status)).not.toContain('old-rule');
  });

  it('records no outcome of a deleted event’s retries in the event re-created under its name', async () => {
    const token = tokenFor('identity');
    // Four failures in a row: the old message is retried for some 15 s after its first attempt.
    await h.emulator.control.setFault({ robot: token }, { kind: 'status', status: 503, times: 4 });
    await groupService(h, 'failing', { token, groupName: 'failing' });
    await create(h, 'AlarmRule', 'to-failing', {
      services: [{ name: 'failing' }],
      match: { sources: ['failing-source'] },
      grouping: { groupWait: '0s', groupInterval: '1s', repeatInterval: '4h' },
    });
    // The re-created event waits in its own rule's group, so its ledger stays open to changes.
    await create(h, 'AlarmRule', 'waiting', {
      services: [{ name: 'failing' }],
      match: { sources: ['waiting-source'] },
      grouping: { groupWait: '1h', groupInterval: '1h', repeatInterval: '4h' },
    });
    const name = 'reused-delivering';
    await createEvent(name, 'failing-source');
    await eventually(async () => {
      const { status } = await get(h, 'AlarmEvent', name);
      const [entry] = (status as AlarmEventStatus | undefined)?.deliveries ?? [];
      return entry?.lastError ? true : undefined;
    });
    await remove(h, name);
    await createEvent(name, 'waiting-source');
    await eventually(async () => {
      const { status } = await get(h, 'AlarmEvent', name);
      return rulesIn(status).includes('waiting') ? true : undefined;
    });
    // The old message's retries record their outcomes seconds before it finally gets through.
    await eventually(
      async () => {
        const messages = await h.emulator.control.messages({ robot: token });
        return messages.some((m) => m.text.includes(name)) ? true : undefined;
      },
      { timeoutMs: 90_000 },
    );
    const { status } = await get(h, 'AlarmEvent', name);
    expect(rulesIn(status)).toEqual(['waiting']);
    expect((status as AlarmEventStatus).phase).toBe('Pending');
    // It would wait out its rule's hour-long groupWait.
    await remove(h, name);
  });
});
