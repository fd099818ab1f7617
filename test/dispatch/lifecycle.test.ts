import { CustomObjectsApi } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { ALARM_EVENT_PLURAL, ALARM_RULE_PLURAL, GROUP, VERSION } from '../../operator/api/index.ts';
import { eventually, testKubeConfig } from '../support/kube.ts';
import {
  create,
  type DispatchHarness,
  get,
  groupService,
  multiGroupService,
  patch,
  tokenFor,
  useDispatch,
  waitForPhase,
} from './harness.ts';

// Alarms held for a configuration fix are given up on after ten seconds here.
const h = useDispatch({ heldCheckIntervalMs: 1_000 }, ['--max-hold-age', '10s']);

const repeating = { groupWait: '1s', groupInterval: '1s', repeatInterval: '4s' };

async function remove(harness: DispatchHarness, plural: string, name: string): Promise<void> {
  const api = testKubeConfig().makeApiClient(CustomObjectsApi);
  const target = { group: GROUP, version: VERSION, namespace: harness.namespace, plural, name };
  await api.deleteNamespacedCustomObject(target);
  await eventually(async () => {
    try {
      await api.getNamespacedCustomObject(target);
      return undefined;
    } catch {
      return true;
    }
  });
}

/** Waits until the robot has received `count` messages more than `since`, and returns them all. */
async function messagesAfter(token: string, since: number, count: number) {
  return eventually(
    async () => {
      const messages = await h.emulator.control.messages({ robot: token });
      return messages.length >= since + count ? messages : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 250 },
  );
}

describe('deleted objects', () => {
  it('a deleted AlarmRule repeats its firing alarms no more, while a rule left in place keeps repeating', async () => {
    const gone = tokenFor('gonerule');
    const kept = tokenFor('keptrule');
    await groupService(h, 'gone', { token: gone, groupName: 'gone' });
    await groupService(h, 'kept', { token: kept, groupName: 'kept' });
    await create(h, 'AlarmRule', 'to-gone', {
      services: [{ name: 'gone' }],
      match: { sources: ['gone-source'] },
      grouping: repeating,
    });
    await create(h, 'AlarmRule', 'to-kept', {
      services: [{ name: 'kept' }],
      match: { sources: ['kept-source'] },
      grouping: repeating,
    });
    await create(h, 'AlarmEvent', 'gone-alarm', {
      severity: 'warning',
      title: 'Gone',
      source: 'gone-source',
    });
    await create(h, 'AlarmEvent', 'kept-alarm', {
      severity: 'warning',
      title: 'Kept',
      source: 'kept-source',
    });
    await waitForPhase(h, 'gone-alarm', ['Delivered']);
    await waitForPhase(h, 'kept-alarm', ['Delivered']);
    // The deleted rule did repeat before: its absence afterwards is the deletion's doing.
    await messagesAfter(gone, 0, 2);

    await remove(h, ALARM_RULE_PLURAL, 'to-gone');
    const goneAtDeletion = (await h.emulator.control.messages({ robot: gone })).length;
    const keptAtDeletion = (await h.emulator.control.messages({ robot: kept })).length;
    await messagesAfter(kept, keptAtDeletion, 3);
    // One repeat may have been under way when the rule went.
    expect((await h.emulator.control.messages({ robot: gone })).length).toBeLessThanOrEqual(
      goneAtDeletion + 1,
    );
  });

  it('a deleted AlarmEvent leaves its group: later repeats list only the alarms still there', async () => {
    const token = tokenFor('goneevent');
    await groupService(h, 'group-of-two', { token, groupName: 'two' });
    await create(h, 'AlarmRule', 'to-two', {
      services: [{ name: 'group-of-two' }],
      match: { sources: ['two-source'] },
      grouping: { ...repeating, groupBy: ['source'] },
    });
    const firing = (title: string, node: string) => ({
      severity: 'warning',
      title,
      source: 'two-source',
      labels: { alertname: 'Disk', node },
    });
    await create(h, 'AlarmEvent', 'stays', firing('Disk full on node-stays', 'stays'));
    await create(h, 'AlarmEvent', 'leaves', firing('Disk full on node-leaves', 'leaves'));
    await waitForPhase(h, 'stays', ['Delivered']);
    await waitForPhase(h, 'leaves', ['Delivered']);
    const before = await messagesAfter(token, 0, 1);
    expect(before.some((m) => m.text.includes('node-leaves'))).toBe(true);

    await remove(h, ALARM_EVENT_PLURAL, 'leaves');
    const atDeletion = (await h.emulator.control.messages({ robot: token })).length;
    const after = await messagesAfter(token, atDeletion, 2);
    const last = after[after.length - 1];
    expect(last?.text).toContain('node-stays');
    expect(last?.text).not.toContain('node-leaves');
  });

  it("records alarms held past --max-hold-age Failed, with the reason and DingTalk's errcode", async () => {
    const token = tokenFor('heldtoolong');
    await groupService(h, 'never-fixed', {
      token,
      groupName: 'never-fixed',
      secret: `SEC${'c'.repeat(64)}`,
      operatorSecret: `SEC${'d'.repeat(64)}`,
    });
    await create(h, 'AlarmRule', 'to-never-fixed', {
      services: [{ name: 'never-fixed' }],
      match: { sources: ['never-fixed-source'] },
      grouping: repeating,
    });
    await create(h, 'AlarmEvent', 'waits-in-vain', {
      severity: 'critical',
      title: 'Never fixed',
      source: 'never-fixed-source',
    });
    expect((await waitForPhase(h, 'waits-in-vain', ['Held', 'Failed'])).status?.phase).toBe('Held');
    const failed = await waitForPhase(h, 'waits-in-vain', ['Failed'], 60_000);
    expect((failed.status?.deliveries as { state: string }[] | undefined)?.[0]).toMatchObject({
      state: 'Failed',
      reason: 'HeldTooLong',
      errcode: '310000',
      lastError: expect.stringContaining('without a configuration fix'),
    });
  });
});

describe('DingTalkService status: one writer per field', () => {
  type Status = {
    groups?: { name: string }[];
    delivery?: { groups?: { name: string; lastDelivery?: { result: string } }[] };
  };
  type Managed = {
    manager: string;
    subresource?: string;
    fieldsV1?: { 'f:status'?: Record<string, unknown> };
  };

  it('keeps delivery health and validation apart, and drops a group removed from the spec from both', async () => {
    const { group } = await multiGroupService(h, 'writers', ['one', 'two']);
    await create(h, 'AlarmRule', 'to-writers', {
      services: [{ name: 'writers' }],
      match: { sources: ['writers-source'] },
      grouping: { groupWait: '1s', groupInterval: '1s', repeatInterval: '4h' },
    });
    await create(h, 'AlarmEvent', 'to-both', {
      severity: 'warning',
      title: 'Both',
      source: 'writers-source',
    });
    await waitForPhase(h, 'to-both', ['Delivered']);
    await eventually(async () => {
      const status = (await get(h, 'DingTalkService', 'writers')).status as Status | undefined;
      return status?.delivery?.groups?.length === 2 && status.groups?.length === 2 ? status : undefined;
    });

    await patch(h, 'DingTalkService', 'writers', { spec: { groups: [group('one')] } });
    await create(h, 'AlarmEvent', 'to-one', { severity: 'warning', title: 'One', source: 'writers-source' });
    await waitForPhase(h, 'to-one', ['Delivered']);
    const service = await eventually(async () => {
      const obj = await get(h, 'DingTalkService', 'writers');
      const status = obj.status as Status | undefined;
      const names = (list?: { name: string }[]) => (list ?? []).map((g) => g.name).join(',');
      return names(status?.groups) === 'one' && names(status?.delivery?.groups) === 'one' ? obj : undefined;
    });
    expect((service.status as Status).delivery?.groups?.[0]?.lastDelivery?.result).toBe('Succeeded');

    // Each status field has exactly one manager.
    const managed = ((service.metadata as { managedFields?: Managed[] }).managedFields ?? []).filter(
      (m) => m.subresource === 'status',
    );
    const owners = new Map<string, string[]>();
    for (const entry of managed) {
      for (const field of Object.keys(entry.fieldsV1?.['f:status'] ?? {})) {
        owners.set(field, [...(owners.get(field) ?? []), entry.manager]);
      }
    }
    expect(owners.get('f:delivery')).toHaveLength(1);
    expect(owners.get('f:groups')).toHaveLength(1);
    expect(owners.get('f:delivery')).not.toEqual(owners.get('f:groups'));
    for (const [field, managers] of owners)
      expect({ field, managers: managers.length }).toEqual({ field, managers: 1 });
  });
});
