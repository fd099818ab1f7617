import { CoreV1Api } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { eventually, testKubeConfig } from '../support/kube.ts';
import { create, get, secret, useDispatch, waitForPhase } from './harness.ts';

const h = useDispatch();

const fastGrouping = { groupWait: '1s', groupInterval: '1s', repeatInterval: '4h' };
const FINAL = ['Delivered', 'PartiallyDelivered', 'Failed', 'Suppressed', 'NoMatchingRule'];
type Entry = { targetKind: string; targetName: string; state: string; members?: Record<string, unknown> };

async function putUsers(ids: string[]): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < ids.length) {
      const id = ids[next++] as string;
      await h.emulator.control.putUser(id, { name: `User ${id}` });
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}

/** An app, its Secret, a DingTalkService for `members` (listed in a ConfigMap) and a rule for `source`. */
async function memberService(name: string, clientId: string, userIds: string[], source: string) {
  await h.emulator.control.putApp(clientId, { clientSecret: `${clientId}-secret` });
  await putUsers(userIds);
  await secret(h, name, { clientSecret: `${clientId}-secret` });
  await testKubeConfig()
    .makeApiClient(CoreV1Api)
    .createNamespacedConfigMap({
      namespace: h.namespace,
      body: { metadata: { name }, data: { 'members.csv': ['userId', ...userIds].join('\n') } },
    });
  await create(h, 'DingTalkService', name, {
    sendTo: ['Member'],
    member: {
      clientId,
      clientSecret: { name, key: 'clientSecret' },
      membersFrom: { name, key: 'members.csv' },
    },
  });
  await eventually(
    async () => {
      const service = await get(h, 'DingTalkService', name);
      const ready = (service.status?.conditions as { type: string; status: string }[] | undefined)?.find(
        (c) => c.type === 'Ready',
      );
      return ready?.status === 'True' ? ready : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 500 },
  );
  await create(h, 'AlarmRule', `to-${name}`, {
    services: [{ name }],
    match: { sources: [source] },
    grouping: fastGrouping,
  });
}

describe('alarms to many members', () => {
  it('records more than 1,000 members in one compact entry and reaches each of them once', async () => {
    const userIds = Array.from({ length: 1_050 }, (_, i) => `many${i}`);
    await memberService('many', 'many-app', userIds, 'many-source');
    await create(h, 'AlarmEvent', 'to-many', {
      severity: 'critical',
      title: 'Everybody',
      source: 'many-source',
    });
    const event = await waitForPhase(h, 'to-many', FINAL, 120_000);
    expect(event.status?.phase).toBe('Delivered');
    const deliveries = (event.status?.deliveries ?? []) as Entry[];
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]).toMatchObject({
      targetKind: 'Member',
      targetName: 'members',
      state: 'Delivered',
      members: { total: 1_050, delivered: 1_050, failed: 0, chunksDone: 53 },
    });
    // 53 calls of at most 20: nobody was messaged twice.
    expect((await h.emulator.control.stats()).batchSendCalls['many-app']).toBe(53);
    for (const userId of [userIds[0], userIds[524], userIds[1_049]] as string[]) {
      expect(await h.emulator.control.messages({ userId })).toHaveLength(1);
    }
  }, 300_000);

  it('never sends a chunk again whose call timed out (DingTalk may have taken it): its members are Unconfirmed', async () => {
    const userIds = Array.from({ length: 25 }, (_, i) => `slow${i}`);
    await memberService('slow', 'slow-app', userIds, 'slow-source');
    // The first batchSend is answered after the operator's 10 s timeout; DingTalk still delivers it.
    await h.emulator.control.setFault({ app: 'slow-app' }, { kind: 'latency', ms: 20_000, times: 1 });
    await create(h, 'AlarmEvent', 'to-slow', {
      severity: 'critical',
      title: 'Slow answer',
      source: 'slow-source',
    });
    const event = await waitForPhase(h, 'to-slow', FINAL, 120_000);
    expect(event.status?.phase).toBe('PartiallyDelivered');
    const [entry] = (event.status?.deliveries ?? []) as Entry[];
    expect(entry?.members).toMatchObject({ total: 25, delivered: 5, failed: 20, chunksDone: 2 });
    expect(((entry?.members?.failures ?? []) as { reason: string }[])[0]).toMatchObject({
      reason: 'Unconfirmed',
    });
    // The slow call's messages arrive; nobody gets two.
    const first = await eventually(
      async () => {
        const messages = await h.emulator.control.messages({ userId: 'slow0' });
        return messages.length > 0 ? messages : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    expect(first).toHaveLength(1);
    expect((await h.emulator.control.stats()).batchSendCalls['slow-app']).toBe(2);
    for (const userId of userIds) expect(await h.emulator.control.messages({ userId })).toHaveLength(1);
  }, 240_000);
});
