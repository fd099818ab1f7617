import { describe, expect, it } from 'vitest';
import { eventually } from '../support/kube.ts';
import { create, get, groupService, patch, secret, tokenFor, useDispatch, waitForPhase } from './harness.ts';

const h = useDispatch({ blockMs: 3_000 });

type Deliveries = {
  state: string;
  reason?: string;
  errcode?: string;
  msgUuid?: string;
  attempts?: number;
  deliveredAt?: string;
}[];
const deliveriesOf = (event: { status?: Record<string, unknown> }) =>
  (event.status?.deliveries ?? []) as Deliveries;

const fastGrouping = { groupWait: '1s', groupInterval: '1s', repeatInterval: '4h' };

describe('alarm delivery to a group robot', () => {
  it('sends a firing alarm as one markdown message naming it, and a resolved message when it resolves', async () => {
    const token = tokenFor('a1');
    await groupService(h, 'ops', { token });
    await create(h, 'AlarmRule', 'to-ops', {
      services: [{ name: 'ops' }],
      match: { sources: ['ops-source'] },
      grouping: fastGrouping,
    });
    await eventually(async () => {
      const rule = await get(h, 'AlarmRule', 'to-ops');
      const ready = (rule.status?.conditions as { type: string; status: string }[] | undefined)?.find(
        (c) => c.type === 'Ready',
      );
      return ready?.status === 'True' ? ready : undefined;
    });

    await create(h, 'AlarmEvent', 'disk-full', {
      severity: 'critical',
      title: 'Disk almost full on node-3',
      source: 'ops-source',
      message: 'Only 2% left on /var',
      labels: { alertname: 'DiskFull', node: 'node-3' },
    });
    const delivered = await waitForPhase(h, 'disk-full', ['Delivered']);
    const [entry] = deliveriesOf(delivered);
    expect(entry).toMatchObject({ state: 'Delivered', msgUuid: expect.any(String) });

    const messages = await h.emulator.control.messages({ robot: token });
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ type: 'markdown', msgUuid: entry?.msgUuid });
    expect(messages[0]?.title).toContain('【CRITICAL】');
    expect(messages[0]?.text).toContain('Disk almost full on node-3');
    expect(messages[0]?.text).toContain('node=node-3');

    await create(h, 'AlarmEvent', 'disk-ok', {
      severity: 'critical',
      title: 'Disk almost full on node-3',
      state: 'resolved',
      source: 'ops-source',
      labels: { alertname: 'DiskFull', node: 'node-3' },
      endsAt: new Date().toISOString(),
    });
    await waitForPhase(h, 'disk-ok', ['Delivered']);
    const all = await h.emulator.control.messages({ robot: token });
    expect(all).toHaveLength(2);
    expect(all[1]?.title).toContain('【RESOLVED】');
    expect(all[1]?.text).toContain('Disk almost full on node-3');
  });

  it('marks an alarm no rule matches NoMatchingRule and sends nothing', async () => {
    await create(h, 'AlarmEvent', 'unmatched', {
      severity: 'info',
      title: 'Nobody cares',
      source: 'nowhere',
    });
    const event = await waitForPhase(h, 'unmatched', ['Delivered', 'NoMatchingRule']);
    expect(event.status?.phase).toBe('NoMatchingRule');
    expect(event.status?.deliveries ?? []).toHaveLength(0);
  });
});

describe('alarms not sent on purpose', () => {
  it('records alarms of a suspended rule and of a rule in a mute window as Suppressed and sends nothing', async () => {
    const token = tokenFor('b2');
    await groupService(h, 'quiet', { token, groupName: 'quiet' });
    await create(h, 'AlarmRule', 'suspended', {
      services: [{ name: 'quiet' }],
      match: { sources: ['suspended-source'] },
      suspend: true,
      grouping: fastGrouping,
    });
    await create(h, 'AlarmRule', 'muted', {
      services: [{ name: 'quiet' }],
      match: { sources: ['muted-source'] },
      timeWindows: { timeZone: 'Asia/Shanghai', mute: [{ start: '00:00', end: '24:00' }] },
      grouping: fastGrouping,
    });
    await create(h, 'AlarmEvent', 'while-suspended', {
      severity: 'warning',
      title: 'Suspended',
      source: 'suspended-source',
    });
    await create(h, 'AlarmEvent', 'while-muted', {
      severity: 'warning',
      title: 'Muted',
      source: 'muted-source',
    });

    const suspended = await waitForPhase(h, 'while-suspended', ['Suppressed', 'Delivered', 'Failed']);
    const muted = await waitForPhase(h, 'while-muted', ['Suppressed', 'Delivered', 'Failed']);
    expect(suspended.status?.phase).toBe('Suppressed');
    expect(muted.status?.phase).toBe('Suppressed');
    expect(deliveriesOf(suspended).find((d) => d.state === 'Suppressed')?.reason).toBe('Suspended');
    expect(deliveriesOf(muted).find((d) => d.state === 'Suppressed')?.reason).toBe('Muted');
    expect(await h.emulator.control.messages({ robot: token })).toHaveLength(0);
  });
});

describe('DingTalk failures', () => {
  it('retries 5xx, connection resets, hangs and a throttle answer, and delivers once the fault clears', async () => {
    const token = tokenFor('c3');
    await groupService(h, 'flaky', { token, groupName: 'flaky' });
    await create(h, 'AlarmRule', 'to-flaky', {
      services: [{ name: 'flaky' }],
      match: { sources: ['flaky-source'] },
      grouping: fastGrouping,
    });
    const faults = [
      { kind: 'status', status: 503, times: 2 },
      { kind: 'reset', times: 1 },
      { kind: 'hang', times: 1 },
      { kind: 'throttle', times: 1 },
    ] as const;
    for (const [i, fault] of faults.entries()) {
      await h.emulator.control.setFault({ robot: token }, fault);
      await create(h, 'AlarmEvent', `flaky-${i}`, {
        severity: 'warning',
        title: `Flaky ${fault.kind}`,
        source: 'flaky-source',
      });
      const event = await waitForPhase(h, `flaky-${i}`, ['Delivered', 'Failed'], 90_000);
      expect(event.status?.phase).toBe('Delivered');
      const [entry] = deliveriesOf(event);
      expect(entry?.attempts).toBeGreaterThan(1);
    }
    const messages = await h.emulator.control.messages({ robot: token });
    for (const fault of faults)
      expect(messages.some((m) => m.text.includes(`Flaky ${fault.kind}`))).toBe(true);
    expect((await h.emulator.control.stats()).shownDuplicates).toBe(0);
  });
});

describe('alarm delivery to members', () => {
  it('sends one-to-one through batchSend to every known member and reports the unknown ones', async () => {
    // u3 is always skipped by DingTalk's flow control: retried, then reported.
    await h.emulator.control.putApp('bench-app', {
      clientSecret: 'app-secret',
      flowControlledUserIds: ['u3'],
    });
    await h.emulator.control.putUser('u1', { name: 'Li Lei' });
    await h.emulator.control.putUser('u2', { name: 'Han Meimei', mobile: '13800000002' });
    await h.emulator.control.putUser('u3', { name: 'Wang Fang' });
    await secret(h, 'app', { clientSecret: 'app-secret' });
    await create(h, 'DingTalkService', 'oncall', {
      sendTo: ['Member'],
      member: {
        clientId: 'bench-app',
        clientSecret: { name: 'app', key: 'clientSecret' },
        members: [{ userId: 'u1' }, { mobile: '13800000002' }, { userId: 'ghost' }, { userId: 'u3' }],
      },
    });
    await create(h, 'AlarmRule', 'to-oncall', {
      services: [{ name: 'oncall' }],
      match: { sources: ['member-source'] },
      grouping: fastGrouping,
    });
    await create(h, 'AlarmEvent', 'page-oncall', {
      severity: 'critical',
      title: 'Database down',
      source: 'member-source',
    });

    const event = await waitForPhase(h, 'page-oncall', ['Delivered', 'PartiallyDelivered', 'Failed']);
    expect(event.status?.phase).toBe('PartiallyDelivered');
    // One compact entry for the member set, naming who did not get it and why.
    expect(event.status?.deliveries).toEqual([
      expect.objectContaining({
        targetKind: 'Member',
        targetName: 'members',
        state: 'Delivered',
        reason: 'SomeMembersFailed',
        members: {
          total: 4,
          delivered: 2,
          failed: 2,
          chunksDone: 1,
          failures: [
            { member: 'ghost', reason: 'MembersUnresolved' },
            { member: 'u3', reason: 'Throttled' },
          ],
        },
      }),
    ]);
    // One batchSend to everyone, then three to u3 alone: nobody else is messaged twice.
    expect((await h.emulator.control.stats()).batchSendCalls['bench-app']).toBe(4);
    for (const userId of ['u1', 'u2']) {
      const [message] = await h.emulator.control.messages({ userId });
      expect(message?.text).toContain('Database down');
    }
  });
});

describe('an AlarmEvent resolved in place', () => {
  const resolvedRule = (name: string, service: string, source: string, sendResolved: boolean) =>
    create(h, 'AlarmRule', name, {
      services: [{ name: service }],
      match: { sources: [source] },
      grouping: { ...fastGrouping, sendResolved },
    });
  const diskAlarm = (source: string, node: string) => ({
    severity: 'critical',
    title: `Disk almost full on ${node}`,
    source,
    labels: { alertname: 'DiskFull', node },
  });
  const resolve = (name: string) =>
    patch(h, 'AlarmEvent', name, { spec: { state: 'resolved', endsAt: new Date().toISOString() } });
  const ruleReady = (name: string) =>
    eventually(async () => {
      const rule = await get(h, 'AlarmRule', name);
      const ready = (rule.status?.conditions as { type: string; status: string }[] | undefined)?.find(
        (c) => c.type === 'Ready',
      );
      return ready?.status === 'True' ? ready : undefined;
    });

  it('sends one resolved message to the group the firing one went to and records it in the ledger', async () => {
    const token = tokenFor('e5');
    await groupService(h, 'in-place', { token, groupName: 'in-place' });
    await resolvedRule('to-in-place', 'in-place', 'in-place-source', true);
    await ruleReady('to-in-place');

    await create(h, 'AlarmEvent', 'disk-node-5', diskAlarm('in-place-source', 'node-5'));
    const firing = await waitForPhase(h, 'disk-node-5', ['Delivered']);
    const [firingEntry] = deliveriesOf(firing);
    expect(await h.emulator.control.messages({ robot: token })).toHaveLength(1);

    await resolve('disk-node-5');
    const resolved = await eventually(
      async () => {
        const event = await get(h, 'AlarmEvent', 'disk-node-5');
        const [entry] = deliveriesOf(event);
        return event.status?.phase === 'Delivered' && entry?.msgUuid !== firingEntry?.msgUuid
          ? event
          : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    const messages = await eventually(async () => {
      const all = await h.emulator.control.messages({ robot: token });
      return all.length >= 2 ? all : undefined;
    });
    expect(messages).toHaveLength(2);
    expect(messages[0]?.title).toContain('【CRITICAL】');
    expect(messages[1]?.title).toContain('【RESOLVED】');
    expect(messages[1]?.text).toContain('Disk almost full on node-5');

    const deliveries = deliveriesOf(resolved);
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]).toMatchObject({ state: 'Delivered', attempts: 1, msgUuid: messages[1]?.msgUuid });
    expect(resolved.status).toMatchObject({
      observedGeneration: (resolved.metadata as { generation: number }).generation,
      finishedAt: expect.any(String),
    });
    expect(resolved.status?.conditions).toEqual(
      expect.arrayContaining([expect.objectContaining({ type: 'Resolved', status: 'True' })]),
    );

    // Other spec changes of the finished event send nothing more.
    await patch(h, 'AlarmEvent', 'disk-node-5', {
      spec: { labels: { alertname: 'DiskFull', node: 'node-5', team: 'a' } },
    });
    await create(h, 'AlarmEvent', 'disk-node-6', diskAlarm('in-place-source', 'node-6'));
    await waitForPhase(h, 'disk-node-6', ['Delivered']);
    const after = await h.emulator.control.messages({ robot: token });
    expect(after).toHaveLength(3);
    expect(after[2]?.text).toContain('node-6');
    expect(after[2]?.text).not.toContain('node-5');
    expect(deliveriesOf(await get(h, 'AlarmEvent', 'disk-node-5'))[0]?.msgUuid).toBe(messages[1]?.msgUuid);
  });

  it('sends nothing more when the rule does not send resolved alarms, and records why', async () => {
    const token = tokenFor('f6');
    await groupService(h, 'no-resolved', { token, groupName: 'no-resolved' });
    await resolvedRule('to-no-resolved', 'no-resolved', 'no-resolved-source', false);
    await ruleReady('to-no-resolved');

    await create(h, 'AlarmEvent', 'disk-node-7', diskAlarm('no-resolved-source', 'node-7'));
    await waitForPhase(h, 'disk-node-7', ['Delivered']);
    await resolve('disk-node-7');
    const suppressed = await waitForPhase(h, 'disk-node-7', ['Suppressed', 'PartiallyDelivered', 'Failed']);
    expect(suppressed.status?.phase).toBe('Suppressed');
    expect(deliveriesOf(suppressed)).toEqual([
      expect.objectContaining({ state: 'Suppressed', reason: 'SendResolvedDisabled' }),
    ]);
    expect(suppressed.status?.finishedAt).toEqual(expect.any(String));

    // A later alarm on the same robot arrives alone: the resolved one was never queued.
    await create(h, 'AlarmEvent', 'disk-node-8', diskAlarm('no-resolved-source', 'node-8'));
    await waitForPhase(h, 'disk-node-8', ['Delivered']);
    const messages = await h.emulator.control.messages({ robot: token });
    expect(messages.map((m) => m.title?.includes('【RESOLVED】') ?? false)).toEqual([false, false]);
    expect(messages).toHaveLength(2);
  });
});
