import { describe, expect, it } from 'vitest';
import { eventually } from '../support/kube.ts';
import { cardOf, serviceCondition } from './card-checks.ts';
import { create, get, patch, secret, useDispatch, waitForPhase } from './harness.ts';

// A group reached through the enterprise app's robot (spec.member.groups, sendTo AppGroup), on a real
// control plane with the DingTalk emulator: an interactive rule's alarm goes there as the app's card,
// a click by one of the service's members comes back over the Stream connection; anything else goes as
// the robot's group message.
const h = useDispatch();

const TEMPLATE = 'alarm-card.schema';
const ROSTER = [
  { userId: 'gc-wang', name: '王五' },
  { userId: 'gc-zhao', name: '赵六' },
];
/** In the group in DingTalk, but not among the service's members. */
const BYSTANDER = { userId: 'gc-bystander', name: 'Bystander' };
const FINAL = ['Delivered', 'PartiallyDelivered', 'Failed'];

/**
 * An app whose robot is (or is not) in the group `cid`, a service sending to the group only, and a rule
 * for `name` (interactive unless told otherwise).
 */
async function groupService(
  name: string,
  { robotInGroup = true, rule = { interactive: {} } as Record<string, unknown> } = {},
): Promise<{ clientId: string; cid: string }> {
  const clientId = `${name}-app`;
  const cid = `cid${name.replaceAll('-', '')}==`;
  await h.emulator.control.putApp(clientId, { clientSecret: `${clientId}-secret` });
  for (const user of [...ROSTER, BYSTANDER])
    await h.emulator.control.putUser(user.userId, { name: user.name });
  await h.emulator.control.putAppGroup(cid, {
    name: `${name} on-call`,
    robotCodes: robotInGroup ? [clientId] : [],
    members: [...ROSTER, BYSTANDER].map((u) => u.userId),
  });
  await secret(h, name, { clientSecret: `${clientId}-secret` });
  await create(h, 'DingTalkService', name, {
    sendTo: ['AppGroup'],
    member: {
      clientId,
      clientSecret: { name, key: 'clientSecret' },
      members: ROSTER,
      cardTemplateId: TEMPLATE,
      groups: [{ name: 'oncall', openConversationId: cid }],
    },
  });
  await create(h, 'AlarmRule', name, {
    services: [{ name }],
    match: { sources: [name] },
    grouping: { groupWait: '1s', groupInterval: '1s', repeatInterval: '3s' },
    ...rule,
  });
  return { clientId, cid };
}

async function cardsOf(source: string) {
  return (await h.emulator.control.cards()).filter((c) => c.cardParamMap.title?.includes(source));
}

/** The app robot's plain messages to the group about `source` (repeats, resolved, non-interactive rules). */
async function groupMessages(cid: string, source: string) {
  const all = await h.emulator.control.messages({ openConversationId: cid });
  return all.filter((m) => `${m.title} ${m.text}`.includes(source));
}

async function click(outTrackId: string, userId: string, params: Record<string, unknown>) {
  return eventually(async () => {
    const answer = await h.emulator.control.click(outTrackId, { userId, params });
    return answer.deliveries.some((d) => d.outcome !== 'no-connection') ? answer.deliveries : undefined;
  });
}

async function clickCount(outcome: string): Promise<number> {
  const text = await h.manager.context.metrics.registry.getSingleMetricAsString(
    'dingtalk_operator_card_clicks_total',
  );
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`dingtalk_operator_card_clicks_total{outcome="${outcome}"}`));
  return Number(line?.split(' ').at(-1) ?? 0);
}

describe('cards to a group through the app robot', () => {
  it('sends the card to the group; a listed member acknowledges it, the card changes and repeats stop', async () => {
    const { clientId, cid } = await groupService('gc-ack');
    await create(h, 'AlarmEvent', 'gc-ack', {
      severity: 'critical',
      title: 'Disk full gc-ack',
      source: 'gc-ack',
    });
    const card = await cardOf(h, 'gc-ack');
    expect(card.spaces).toEqual([`IM_GROUP.${cid}`]);
    expect(card.clientId).toBe(clientId);
    expect(card.cardParamMap).toMatchObject({ state: 'Firing', actions: 'Acknowledge,Snooze,Resolve' });
    const delivered = await waitForPhase(h, 'gc-ack', ['Delivered']);
    const [entry] = (delivered.status?.deliveries ?? []) as Record<string, unknown>[];
    expect(entry).toMatchObject({ targetKind: 'AppGroup', targetName: 'oncall', messageId: card.outTrackId });
    // A repeat before anyone acts goes to the group as the robot's message, not as a second card.
    await eventually(async () => ((await groupMessages(cid, 'gc-ack')).length > 0 ? true : undefined), {
      timeoutMs: 30_000,
    });

    const [answer] = await click(card.outTrackId, 'gc-zhao', { action: 'Acknowledge' });
    expect(answer).toMatchObject({ outcome: 'answered', applied: true });
    const ack = await eventually(async () => {
      const now = (await get(h, 'AlarmEvent', 'gc-ack')).status?.acknowledgement as
        | { action: string; by?: { userId?: string; name?: string }; via: string }
        | undefined;
      return now?.action === 'Acknowledged' ? now : undefined;
    });
    expect(ack).toMatchObject({ by: { userId: 'gc-zhao', name: '赵六' }, via: 'Card' });
    const updated = await eventually(async () => {
      const now = await cardOf(h, 'gc-ack');
      return now.history.some((v) => v.by === 'update') ? now : undefined;
    });
    expect(updated.cardParamMap).toMatchObject({ state: 'Acknowledged', stateText: 'acknowledged by 赵六' });

    // Two repeat intervals of a control alarm pass without a repeat of this one (one may have been under way).
    const atAck = (await groupMessages(cid, 'gc-ack')).length;
    const control = await groupService('gc-ack-control', { rule: {} });
    await create(h, 'AlarmEvent', 'gc-ack-control', {
      severity: 'info',
      title: 'Control gc-ack-control',
      source: 'gc-ack-control',
    });
    await eventually(
      async () => ((await groupMessages(control.cid, 'gc-ack-control')).length >= 3 ? true : undefined),
      { timeoutMs: 60_000 },
    );
    expect((await groupMessages(cid, 'gc-ack')).length).toBeLessThanOrEqual(atAck + 1);
    expect(await cardsOf('gc-ack')).toHaveLength(1);
    const service = await get(h, 'DingTalkService', 'gc-ack');
    const appGroups = (service.status?.delivery as { appGroups?: unknown[] } | undefined)?.appGroups;
    expect(appGroups).toEqual([
      { name: 'oncall', lastDelivery: expect.objectContaining({ result: 'Succeeded' }) },
    ]);
  });

  it("refuses and counts a click by a group member who is not among the service's members", async () => {
    await groupService('gc-stranger');
    await create(h, 'AlarmEvent', 'gc-stranger', {
      severity: 'critical',
      title: 'Disk full gc-stranger',
      source: 'gc-stranger',
    });
    const card = await cardOf(h, 'gc-stranger');
    const before = await clickCount('NotAMember');
    const [answer] = await click(card.outTrackId, BYSTANDER.userId, { action: 'Acknowledge' });
    expect(answer).toMatchObject({ outcome: 'answered', applied: false });
    await eventually(async () => ((await clickCount('NotAMember')) > before ? true : undefined));
    expect((await get(h, 'AlarmEvent', 'gc-stranger')).status?.acknowledgement).toBeUndefined();
    expect((await cardOf(h, 'gc-stranger')).cardParamMap.state).toBe('Firing');
  });

  it("holds the alarm while the app's robot is not in the group, naming the field, and sends it once fixed", async () => {
    const { clientId } = await groupService('gc-held', { robotInGroup: false });
    await create(h, 'AlarmEvent', 'gc-held', {
      severity: 'critical',
      title: 'Disk full gc-held',
      source: 'gc-held',
    });
    const held = await waitForPhase(h, 'gc-held', ['Held', ...FINAL]);
    expect(held.status?.phase).toBe('Held');
    const [entry] = (held.status?.deliveries ?? []) as Record<string, unknown>[];
    expect(entry).toMatchObject({
      state: 'Held',
      targetKind: 'AppGroup',
      errcode: 'invalid.openConversationId',
    });
    const ready = await serviceCondition(h, 'gc-held', 'Ready', 'False');
    expect(ready.reason).toBe('Held');
    expect(ready.message).toContain('spec.member.groups[oncall].openConversationId');
    expect(await cardsOf('gc-held')).toHaveLength(0);

    // The fix: the service names a group the robot is in.
    const fixed = 'cidgcheldfixed==';
    await h.emulator.control.putAppGroup(fixed, {
      name: 'fixed',
      robotCodes: [clientId],
      members: ['gc-wang'],
    });
    await patch(h, 'DingTalkService', 'gc-held', {
      spec: { member: { groups: [{ name: 'oncall', openConversationId: fixed }] } },
    });
    await waitForPhase(h, 'gc-held', ['Delivered']);
    const card = await cardOf(h, 'gc-held');
    expect(card.spaces).toEqual([`IM_GROUP.${fixed}`]);
    await serviceCondition(h, 'gc-held', 'Ready', 'True');
  });

  it('sends a non-interactive alarm as the robot group message', async () => {
    const { cid } = await groupService('gc-plain', { rule: {} });
    await create(h, 'AlarmEvent', 'gc-plain', {
      severity: 'warning',
      title: 'Disk full gc-plain',
      source: 'gc-plain',
    });
    await waitForPhase(h, 'gc-plain', ['Delivered']);
    const [message] = await groupMessages(cid, 'gc-plain');
    expect(message?.to).toMatchObject({
      kind: 'appGroup',
      openConversationId: cid,
      robotCode: 'gc-plain-app',
    });
    expect(await cardsOf('gc-plain')).toHaveLength(0);
  });

  it('sends no second card after a restart', async () => {
    const { clientId, cid } = await groupService('gc-restart');
    await create(h, 'AlarmEvent', 'gc-restart', {
      severity: 'critical',
      title: 'Disk full gc-restart',
      source: 'gc-restart',
    });
    await waitForPhase(h, 'gc-restart', ['Delivered']);
    const card = await cardOf(h, 'gc-restart');
    await h.stopOperator();
    const stats = await h.emulator.control.stats();
    h.startOperator();
    // The new operator has taken the alarm up: its repeats reach the group as messages.
    const repeats = (await groupMessages(cid, 'gc-restart')).length;
    await eventually(
      async () => ((await groupMessages(cid, 'gc-restart')).length > repeats ? true : undefined),
      { timeoutMs: 30_000 },
    );
    expect(await cardsOf('gc-restart')).toEqual([expect.objectContaining({ outTrackId: card.outTrackId })]);
    expect((await h.emulator.control.stats()).cardCalls[clientId]).toBe(stats.cardCalls[clientId]);
    // Its click still acts on the alarm, through the new operator.
    await click(card.outTrackId, 'gc-wang', { action: 'Resolve' });
    await eventually(async () => {
      const ack = (await get(h, 'AlarmEvent', 'gc-restart')).status?.acknowledgement as
        | { action: string }
        | undefined;
      return ack?.action === 'Resolved' ? true : undefined;
    });
  });
});
