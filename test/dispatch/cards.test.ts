import { describe, expect, it } from 'vitest';
import { eventually, kubectl } from '../support/kube.ts';
import { cardOf, serviceCondition } from './card-checks.ts';
import { create, get, secret, useDispatch, waitForPhase } from './harness.ts';

// Interactive cards on a real control plane with the DingTalk emulator: an interactive rule's alarm
// to members goes out as the app's card; clicks on it come back over the Stream connection.
const h = useDispatch();

const TEMPLATE = 'alarm-card.schema';
const MEMBERS = [
  { userId: 'zhangsan', name: '张三' },
  { userId: 'lisi', name: '李四' },
];

/** An app with a card template, a service for its members, and an interactive rule for `source`. */
async function cardService(name: string, rule: Record<string, unknown> = {}): Promise<void> {
  const clientId = `${name}-app`;
  await h.emulator.control.putApp(clientId, { clientSecret: `${clientId}-secret` });
  for (const member of MEMBERS) await h.emulator.control.putUser(member.userId, { name: member.name });
  await secret(h, name, { clientSecret: `${clientId}-secret` });
  await create(h, 'DingTalkService', name, {
    sendTo: ['Member'],
    member: {
      clientId,
      clientSecret: { name, key: 'clientSecret' },
      members: MEMBERS,
      cardTemplateId: TEMPLATE,
    },
  });
  await create(h, 'AlarmRule', name, {
    services: [{ name }],
    match: { sources: [name] },
    grouping: { groupWait: '1s', groupInterval: '1s', repeatInterval: '3s' },
    interactive: {},
    ...rule,
  });
}

describe('interactive cards', () => {
  it('sends an interactive alarm to members as one card with the actions offered', async () => {
    await cardService('card-sent');
    await create(h, 'AlarmEvent', 'card-sent', {
      severity: 'critical',
      title: 'Disk full card-sent',
      source: 'card-sent',
    });
    await waitForPhase(h, 'card-sent', ['Delivered']);
    const card = await cardOf(h, 'card-sent');
    expect(card.cardTemplateId).toBe(TEMPLATE);
    expect(card.spaces.sort()).toEqual(['IM_ROBOT.lisi', 'IM_ROBOT.zhangsan']);
    expect(card.cardParamMap).toMatchObject({
      severity: 'critical',
      state: 'Firing',
      actions: 'Acknowledge,Snooze,Resolve',
      snoozeDurations: '1h',
    });
    const event = await get(h, 'AlarmEvent', 'card-sent');
    const [entry] = (event.status?.deliveries ?? []) as { messageId?: string }[];
    expect(entry?.messageId).toBe(card.outTrackId);
    expect(
      (await h.emulator.control.cards()).filter((c) => c.cardParamMap.title?.includes('card-sent')),
    ).toHaveLength(1);
  });
});

interface Acknowledgement {
  action: string;
  by?: { userId?: string; name?: string };
  until?: string;
  via: string;
}

async function acknowledgementOf(name: string, action: string): Promise<Acknowledgement> {
  return eventually(async () => {
    const ack = (await get(h, 'AlarmEvent', name)).status?.acknowledgement as Acknowledgement | undefined;
    return ack?.action === action ? ack : undefined;
  });
}

/** The plain messages (reminders, resolved) members got about `source`. */
async function reminders(source: string) {
  const all = await h.emulator.control.messages({ userId: 'zhangsan' });
  return all.filter((m) => `${m.title} ${m.text}`.includes(source));
}

async function remindersAfter(source: string, since: number, count: number) {
  return eventually(
    async () => {
      const all = await reminders(source);
      return all.length >= since + count ? all : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 250 },
  );
}

/** Clicks once the app's Stream connection is open. */
async function click(outTrackId: string, userId: string, params: Record<string, unknown>, deliveries = 1) {
  return eventually(async () => {
    const answer = await h.emulator.control.click(outTrackId, { userId, params, deliveries });
    const delivered = answer.deliveries;
    return delivered.some((d) => d.outcome !== 'no-connection') ? delivered : undefined;
  });
}

describe('card clicks', () => {
  it('records an acknowledgement clicked by a member, with their name, and shows it on the card', async () => {
    await cardService('card-ack');
    await create(h, 'AlarmEvent', 'card-ack', {
      severity: 'critical',
      title: 'Disk full card-ack',
      source: 'card-ack',
    });
    const card = await cardOf(h, 'card-ack');
    const [delivery] = await click(card.outTrackId, 'zhangsan', { action: 'Acknowledge' });
    expect(delivery?.outcome).toBe('answered');
    expect(delivery?.applied).toBe(true);
    const ack = await acknowledgementOf('card-ack', 'Acknowledged');
    expect(ack).toMatchObject({ by: { userId: 'zhangsan', name: '张三' }, via: 'Card' });
    const shown = await cardOf(h, 'card-ack');
    expect(shown.cardParamMap).toMatchObject({ state: 'Acknowledged', stateText: 'acknowledged by 张三' });
  });

  it('stops repeats once acknowledged, and updates the card once for a click delivered twice', async () => {
    await cardService('card-stop');
    await create(h, 'AlarmEvent', 'card-stop', {
      severity: 'critical',
      title: 'Disk full card-stop',
      source: 'card-stop',
    });
    const card = await cardOf(h, 'card-stop');
    await remindersAfter('card-stop', 0, 1);
    // Delivered twice, as DingTalk may redeliver a click: recorded once, so the card is updated once.
    await click(card.outTrackId, 'lisi', { action: 'Acknowledge' }, 2);
    await acknowledgementOf('card-stop', 'Acknowledged');
    const updated = await eventually(async () => {
      const now = await cardOf(h, 'card-stop');
      return now.history.some((v) => v.by === 'update') ? now : undefined;
    });
    expect(updated.cardParamMap.stateText).toBe('acknowledged by 李四');
    const atAck = (await reminders('card-stop')).length;
    // Two repeat intervals of a control alarm on the same members pass without a repeat of this one.
    await cardService('stop-control');
    await create(h, 'AlarmEvent', 'stop-control', {
      severity: 'info',
      title: 'Control stop-control',
      source: 'stop-control',
    });
    await remindersAfter('stop-control', 0, 2);
    expect((await reminders('card-stop')).length).toBeLessThanOrEqual(atAck + 1);
    expect((await cardOf(h, 'card-stop')).history.filter((v) => v.by === 'update')).toHaveLength(1);
  });

  it('pauses repeats while snoozed, then they go on', async () => {
    await cardService('card-snooze', { interactive: { actions: ['Snooze'], snoozeDurations: ['4s'] } });
    await create(h, 'AlarmEvent', 'card-snooze', {
      severity: 'warning',
      title: 'Disk full card-snooze',
      source: 'card-snooze',
    });
    const card = await cardOf(h, 'card-snooze');
    await click(card.outTrackId, 'zhangsan', { action: 'Snooze', snooze: '4s' });
    const ack = await acknowledgementOf('card-snooze', 'Snoozed');
    expect(Date.parse(ack.until ?? '')).toBeGreaterThan(Date.now() - 4_000);
    expect((await cardOf(h, 'card-snooze')).cardParamMap.stateText).toMatch(/^snoozed until .* by 张三$/);
    const resumed = await remindersAfter('card-snooze', 0, 1);
    expect(resumed.at(-1)?.receivedAt ?? 0).toBeGreaterThanOrEqual(Date.parse(ack.until ?? ''));
  });

  it('resolves from the card: the resolved message follows sendResolved', async () => {
    await cardService('card-resolve');
    await create(h, 'AlarmEvent', 'card-resolve', {
      severity: 'critical',
      title: 'Disk full card-resolve',
      source: 'card-resolve',
    });
    const card = await cardOf(h, 'card-resolve');
    await click(card.outTrackId, 'zhangsan', { action: 'Resolve' });
    expect(await acknowledgementOf('card-resolve', 'Resolved')).toMatchObject({ by: { name: '张三' } });
    await eventually(async () => {
      const all = await reminders('card-resolve');
      return all.some((m) => m.title?.includes('RESOLVED')) ? all : undefined;
    });
    expect((await cardOf(h, 'card-resolve')).cardParamMap).toMatchObject({ state: 'Resolved', actions: '' });
  });

  it('updates the card when acknowledged with kubectl', async () => {
    await cardService('card-kubectl');
    await create(h, 'AlarmEvent', 'card-kubectl', {
      severity: 'critical',
      title: 'Disk full card-kubectl',
      source: 'card-kubectl',
    });
    await cardOf(h, 'card-kubectl');
    await waitForPhase(h, 'card-kubectl', ['Delivered']);
    await kubectl([
      'annotate',
      '-n',
      h.namespace,
      'ae',
      'card-kubectl',
      'dingtalk.alarming.io/ack=acknowledge',
      'dingtalk.alarming.io/ack-by=lisi',
    ]);
    const shown = await eventually(async () => {
      const card = await cardOf(h, 'card-kubectl');
      return card.cardParamMap.state === 'Acknowledged' ? card : undefined;
    });
    expect(shown.cardParamMap.stateText).toBe('acknowledged by 李四');
  });

  it('refuses a forged click: an unknown outTrackId, or a user the card did not go to', async () => {
    await cardService('card-forged');
    await create(h, 'AlarmEvent', 'card-forged', {
      severity: 'critical',
      title: 'Disk full card-forged',
      source: 'card-forged',
    });
    const card = await cardOf(h, 'card-forged');
    await h.emulator.control.putUser('mallory', { name: 'Mallory' });
    const [stranger] = await click(card.outTrackId, 'mallory', { action: 'Acknowledge' });
    expect(stranger).toMatchObject({ outcome: 'answered', applied: false });
    const forged = await h.emulator.control.click(`alarm-${'0'.repeat(40)}`, {
      userId: 'zhangsan',
      params: { action: 'Acknowledge' },
      clientId: 'card-forged-app',
    });
    expect(forged.deliveries[0]).toMatchObject({ outcome: 'answered', applied: false });
    const event = await get(h, 'AlarmEvent', 'card-forged');
    expect(event.status?.acknowledgement).toBeUndefined();
    expect((await cardOf(h, 'card-forged')).cardParamMap.state).toBe('Firing');
  });

  it('reports the Stream connection in StreamConnected, and why while it is refused', async () => {
    await cardService('card-refused');
    expect(await serviceCondition(h, 'card-refused', 'StreamConnected', 'True')).toMatchObject({
      message: expect.stringMatching(/^connected since/),
    });
    await h.emulator.control.putApp('card-refused-app', { clientSecret: 'rotated-secret' });
    await h.emulator.control.dropStream('card-refused-app');
    const lost = await serviceCondition(h, 'card-refused', 'StreamConnected', 'False');
    expect(lost.reason).toBe('StreamLost');
    expect(lost.message).not.toContain('card-refused-app-secret');
  });

  it('takes a click after the Stream connection dropped mid-incident and came back', async () => {
    await cardService('card-drop');
    await create(h, 'AlarmEvent', 'card-drop', {
      severity: 'critical',
      title: 'Disk full card-drop',
      source: 'card-drop',
    });
    const card = await cardOf(h, 'card-drop');
    await eventually(async () =>
      (await h.emulator.control.streamConnections('card-drop-app')).length > 0 ? true : undefined,
    );
    await h.emulator.control.dropStream('card-drop-app');
    const [delivery] = await click(card.outTrackId, 'zhangsan', { action: 'Acknowledge' });
    expect(delivery?.outcome).toBe('answered');
    await acknowledgementOf('card-drop', 'Acknowledged');
    expect(await serviceCondition(h, 'card-drop', 'StreamConnected', 'True')).toMatchObject({
      reason: 'StreamOpen',
    });
  });
});
