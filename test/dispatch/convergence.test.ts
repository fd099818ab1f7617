import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALARM_RULE_PLURAL, GROUP, VERSION } from '../../operator/api/index.ts';
import { type ApiProxy, startApiProxy } from '../support/api-proxy.ts';
import { eventually, testKubeConfig } from '../support/kube.ts';
import {
  create,
  type DispatchHarness,
  get,
  groupService,
  kubeconfigPath,
  multiGroupService,
  patch,
  secret,
  tokenFor,
  useDispatch,
  waitForPhase,
} from './harness.ts';

let proxy: ApiProxy;
beforeAll(async () => {
  proxy = await startApiProxy(kubeconfigPath());
});
afterAll(async () => {
  await proxy?.close();
});
// The operator reaches the API server through the proxy, which can make its AlarmEvent watch expire.
const h = useDispatch({ heldCheckIntervalMs: 1_000 }, [], { kubeconfig: () => proxy.kubeconfig });

/** Long enough to edit the configuration while the alarm waits for its first notification. */
const waiting = { groupWait: '10s', groupInterval: '1s', repeatInterval: '4h' };

type Entry = { service: string; targetName: string; state: string; reason?: string; rule: string };

const entries = async (name: string): Promise<Entry[]> =>
  ((await get(h, 'AlarmEvent', name)).status?.deliveries ?? []) as Entry[];

/** Waits until the event's ledger has a Pending entry, so a change comes while it waits in its group. */
async function waitsInGroup(name: string): Promise<void> {
  await eventually(async () => ((await entries(name)).some((d) => d.state === 'Pending') ? true : undefined));
}

async function removeRule(harness: DispatchHarness, name: string): Promise<void> {
  const api = testKubeConfig().makeApiClient(CustomObjectsApi);
  await api.deleteNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace: harness.namespace,
    plural: ALARM_RULE_PLURAL,
    name,
  });
}

const messages = (token: string) => h.emulator.control.messages({ robot: token });

describe('dispatch converges when the configuration changes while alarms wait', () => {
  it('sends an alarm waiting in its group to the service its rule was edited to, and finishes the old target', async () => {
    const [before, after] = [tokenFor('editfrom'), tokenFor('editto')];
    await groupService(h, 'edit-from', { token: before, groupName: 'from' });
    await groupService(h, 'edit-to', { token: after, groupName: 'to' });
    await create(h, 'AlarmRule', 'edited', {
      services: [{ name: 'edit-from' }],
      match: { sources: ['edited-source'] },
      grouping: waiting,
    });
    await create(h, 'AlarmEvent', 'moves', { severity: 'critical', title: 'Moves', source: 'edited-source' });
    await waitsInGroup('moves');

    await patch(h, 'AlarmRule', 'edited', { spec: { services: [{ name: 'edit-to' }] } });

    const event = await waitForPhase(h, 'moves', ['Delivered', 'Suppressed', 'Failed']);
    expect(event.status?.phase).toBe('Delivered');
    expect(await entries('moves')).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ service: 'edit-from', state: 'Suppressed', reason: 'TargetRemoved' }),
        expect.objectContaining({ service: 'edit-to', state: 'Delivered' }),
      ]),
    );
    expect(await messages(after)).toHaveLength(1);
    expect(await messages(before)).toEqual([]);
  });

  it('finishes the entry of a group its service dropped, and still sends to the group it kept', async () => {
    const { tokens, group } = await multiGroupService(h, 'two-groups', ['kept', 'dropped']);
    await create(h, 'AlarmRule', 'to-two-groups', {
      services: [{ name: 'two-groups' }],
      match: { sources: ['two-groups-source'] },
      grouping: waiting,
    });
    await create(h, 'AlarmEvent', 'loses-a-group', {
      severity: 'warning',
      title: 'Loses a group',
      source: 'two-groups-source',
    });
    await eventually(async () => ((await entries('loses-a-group')).length === 2 ? true : undefined));

    await patch(h, 'DingTalkService', 'two-groups', { spec: { groups: [group('kept')] } });

    expect((await waitForPhase(h, 'loses-a-group', ['Delivered', 'Failed'])).status?.phase).toBe('Delivered');
    expect(await entries('loses-a-group')).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ targetName: 'dropped', state: 'Suppressed', reason: 'TargetRemoved' }),
        expect.objectContaining({ targetName: 'kept', state: 'Delivered' }),
      ]),
    );
    expect(await messages(tokens.kept as string)).toHaveLength(1);
    expect(await messages(tokens.dropped as string)).toEqual([]);
  });

  it('finishes at start the waiting alarms of a rule deleted while no operator ran', async () => {
    const token = tokenFor('deletedwhiledown');
    await groupService(h, 'while-down', { token, groupName: 'while-down' });
    await create(h, 'AlarmRule', 'deleted-while-down', {
      services: [{ name: 'while-down' }],
      match: { sources: ['while-down-source'] },
      grouping: waiting,
    });
    await create(h, 'AlarmEvent', 'orphaned', {
      severity: 'warning',
      title: 'Orphaned',
      source: 'while-down-source',
    });
    await waitsInGroup('orphaned');

    await h.stopOperator();
    await removeRule(h, 'deleted-while-down');
    h.startOperator();

    expect((await waitForPhase(h, 'orphaned', ['Suppressed', 'Delivered', 'Failed'])).status?.phase).toBe(
      'Suppressed',
    );
    expect(await entries('orphaned')).toEqual([
      expect.objectContaining({ rule: 'deleted-while-down', state: 'Suppressed', reason: 'RuleDeleted' }),
    ]);
    expect(await messages(token)).toEqual([]);
  });
});

describe('a Secret briefly missing holds alarms instead of failing them', () => {
  it('holds an alarm while its robot Secret is re-created, and sends it once when the Secret is back', async () => {
    const token = tokenFor('recreatedsecret');
    await groupService(h, 'gitops', { token, groupName: 'gitops' });
    await create(h, 'AlarmRule', 'to-gitops', {
      services: [{ name: 'gitops' }],
      match: { sources: ['gitops-source'] },
      grouping: { groupWait: '1s', groupInterval: '1s', repeatInterval: '4h' },
    });
    const core = testKubeConfig().makeApiClient(CoreV1Api);
    // A GitOps replace: the Secret goes first, and comes back a moment later.
    await core.deleteNamespacedSecret({ namespace: h.namespace, name: 'gitops-robot' });
    await create(h, 'AlarmEvent', 'during-sync', {
      severity: 'critical',
      title: 'During sync',
      source: 'gitops-source',
    });

    const held = await waitForPhase(h, 'during-sync', ['Held', 'Failed', 'Delivered']);
    expect(held.status?.phase).toBe('Held');
    expect(await entries('during-sync')).toEqual([
      expect.objectContaining({ state: 'Held', reason: 'SecretNotFound' }),
    ]);

    await secret(h, 'gitops-robot', { webhook: `${h.emulator.url}/robot/send?access_token=${token}` });
    expect((await waitForPhase(h, 'during-sync', ['Delivered', 'Failed'])).status?.phase).toBe('Delivered');
    expect(await messages(token)).toHaveLength(1);
  });
});

describe('a service applied after its rule', () => {
  it("holds the alarm (ServiceNotFound) until the service exists, then sends it to the service's group", async () => {
    const token = tokenFor('servicelater');
    await create(h, 'AlarmRule', 'before-its-service', {
      services: [{ name: 'later' }],
      match: { sources: ['later-source'] },
      grouping: { groupWait: '1s', groupInterval: '1s', repeatInterval: '4h' },
    });
    await create(h, 'AlarmEvent', 'early', { severity: 'warning', title: 'Early', source: 'later-source' });
    expect((await waitForPhase(h, 'early', ['Held', 'Failed', 'Delivered'])).status?.phase).toBe('Held');
    expect(await entries('early')).toEqual([
      expect.objectContaining({ state: 'Held', reason: 'ServiceNotFound' }),
    ]);

    await groupService(h, 'later', { token, groupName: 'later' });

    expect(
      (await waitForPhase(h, 'early', ['Delivered', 'Failed', 'PartiallyDelivered'])).status?.phase,
    ).toBe('Delivered');
    expect(await entries('early')).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ targetName: '-', state: 'Suppressed', reason: 'TargetRemoved' }),
        expect.objectContaining({ targetName: 'later', state: 'Delivered' }),
      ]),
    );
    expect(await messages(token)).toHaveLength(1);
  });
});

describe('repeats across a restart', () => {
  it('sends nothing extra when the operator restarts between two repeats, and the next repeat comes on time', async () => {
    const token = tokenFor('repeatrestart');
    const intervalMs = 20_000;
    await groupService(h, 'repeating', { token, groupName: 'repeating' });
    await create(h, 'AlarmRule', 'to-repeating', {
      services: [{ name: 'repeating' }],
      match: { sources: ['repeating-source'] },
      grouping: { groupWait: '1s', groupInterval: '1s', repeatInterval: '20s' },
    });
    await create(h, 'AlarmEvent', 'long-firing', {
      severity: 'critical',
      title: 'Long firing',
      source: 'repeating-source',
    });
    await waitForPhase(h, 'long-firing', ['Delivered']);
    // The first repeat, on the ledger: the restart comes between it and the next one.
    const atRepeat = await eventually(
      async () => {
        const sent = await messages(token);
        const repeated = (await entries('long-firing'))[0] as Entry & { repeatedAt?: string };
        return sent.length === 2 && repeated?.repeatedAt ? sent : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 250 },
    );

    await h.stopOperator();
    h.startOperator();

    const sent = await eventually(
      async () => {
        const all = await messages(token);
        return all.length >= 3 ? all : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 250 },
    );
    const [, second, third] = sent as [unknown, { receivedAt: number }, { receivedAt: number }];
    expect(atRepeat).toHaveLength(2);
    // Not at once on start (from the first notification's time), but a full interval after the last repeat
    // (the ledger keeps whole seconds); and not an interval late.
    expect(third.receivedAt - second.receivedAt).toBeGreaterThanOrEqual(intervalMs - 1_000);
    expect(third.receivedAt - second.receivedAt).toBeLessThan(2 * intervalMs);
  });
});

describe('a rule deleted while the operator runs', () => {
  it('finishes the alarms that waited for it, so none stays Pending', async () => {
    const token = tokenFor('deletedwhileup');
    await groupService(h, 'while-up', { token, groupName: 'while-up' });
    await create(h, 'AlarmRule', 'deleted-while-up', {
      services: [{ name: 'while-up' }],
      match: { sources: ['while-up-source'] },
      grouping: waiting,
    });
    await create(h, 'AlarmEvent', 'left-behind', {
      severity: 'info',
      title: 'Left behind',
      source: 'while-up-source',
    });
    await waitsInGroup('left-behind');
    await removeRule(h, 'deleted-while-up');
    expect((await waitForPhase(h, 'left-behind', ['Suppressed', 'Delivered'])).status?.phase).toBe(
      'Suppressed',
    );
    expect(await messages(token)).toEqual([]);
  });
});

describe('an event first seen after start', () => {
  it('sends what its ledger has underway under the msgUuid on record, once', async () => {
    const token = tokenFor('seenafterstart');
    await groupService(h, 'relisted', { token, groupName: 'relisted' });
    await create(h, 'AlarmRule', 'to-relisted', {
      services: [{ name: 'relisted' }],
      match: { sources: ['relisted-source'] },
      grouping: { groupWait: '1s', groupInterval: '1s', repeatInterval: '4h' },
    });
    await eventually(async () =>
      (await get(h, 'AlarmRule', 'to-relisted')).status?.conditions ? true : undefined,
    );
    // While the operator's watch is down, another leader took the event on and recorded its message
    // underway; the operator then lists again (its watch expired) and meets the event for the first time.
    proxy.stall('alarmevents');
    await proxy.watchHeld();
    await create(h, 'AlarmEvent', 'underway', {
      severity: 'critical',
      title: 'Underway',
      source: 'relisted-source',
    });
    const at = `${new Date().toISOString().slice(0, 19)}Z`;
    await testKubeConfig()
      .makeApiClient(CustomObjectsApi)
      .patchNamespacedCustomObjectStatus(
        {
          group: GROUP,
          version: VERSION,
          namespace: h.namespace,
          plural: 'alarmevents',
          name: 'underway',
          body: {
            status: {
              phase: 'Delivering',
              deliveries: [
                {
                  ruleNamespace: h.namespace,
                  rule: 'to-relisted',
                  service: 'relisted',
                  targetKind: 'Group',
                  targetName: 'relisted',
                  state: 'Delivering',
                  msgUuid: 'recorded-by-another-leader',
                  lastAttemptAt: at,
                },
              ],
            },
          },
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    proxy.expireStalledWatches();

    expect((await waitForPhase(h, 'underway', ['Delivered', 'Failed'])).status?.phase).toBe('Delivered');
    const sent = await messages(token);
    expect(sent.map((m) => m.msgUuid)).toEqual(['recorded-by-another-leader']);
  });
});

describe('a rule seen after an alarm it existed before', () => {
  it('delivers the alarm, and leaves an alarm older than the rule unmatched', async () => {
    const token = tokenFor('seenlate');
    await groupService(h, 'seen-late', { token, groupName: 'seen-late' });
    const match = { sources: ['seen-late-source'] };
    const alarm = { severity: 'critical', source: 'seen-late-source' };
    await create(h, 'AlarmEvent', 'older-than-rule', { ...alarm, title: 'Older than the rule' });
    const older = await waitForPhase(h, 'older-than-rule', ['NoMatchingRule']);
    // Creation times have seconds: the rule's must be later than the older alarm's.
    const second = (at: Date) => `${at.toISOString().slice(0, 19)}Z`;
    await eventually(() =>
      second(new Date()) > String((older.metadata as { creationTimestamp?: string }).creationTimestamp)
        ? true
        : undefined,
    );

    // The operator's watch of rules is down, so it sees an alarm created after the rule before the rule.
    proxy.stall('alarmrules');
    await proxy.watchHeld();
    await create(h, 'AlarmRule', 'seen-late', {
      services: [{ name: 'seen-late' }],
      match,
      grouping: { groupWait: '1s', groupInterval: '1s', repeatInterval: '4h' },
    });
    await create(h, 'AlarmEvent', 'newer-than-rule', { ...alarm, title: 'Newer than the rule' });
    await waitForPhase(h, 'newer-than-rule', ['NoMatchingRule']);
    proxy.expireStalledWatches();

    expect((await waitForPhase(h, 'newer-than-rule', ['Delivered', 'Failed'])).status).toMatchObject({
      phase: 'Delivered',
      deliveries: [expect.objectContaining({ rule: 'seen-late', state: 'Delivered' })],
    });
    expect((await get(h, 'AlarmEvent', 'newer-than-rule')).status?.finishedAt).toBeDefined();
    const sent = await messages(token);
    expect(sent.map((m) => m.text.includes('Newer than the rule'))).toEqual([true]);
    expect((await get(h, 'AlarmEvent', 'older-than-rule')).status?.phase).toBe('NoMatchingRule');
  });
});
