import { describe, expect, it } from 'vitest';
import { eventually } from '../support/kube.ts';
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

async function cardOf(source: string) {
  return eventually(async () => {
    const cards = await h.emulator.control.cards();
    return cards.find((c) => c.cardParamMap.title?.includes(source));
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
    const card = await cardOf('card-sent');
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

/** Clicks once the app's Stream connection is open. */
async function click(outTrackId: string, userId: string, params: Record<string, unknown>) {
  return eventually(async () => {
    const { deliveries } = await h.emulator.control.click(outTrackId, { userId, params });
    return deliveries.some((d) => d.outcome !== 'no-connection') ? deliveries : undefined;
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
    const card = await cardOf('card-ack');
    const [delivery] = await click(card.outTrackId, 'zhangsan', { action: 'Acknowledge' });
    expect(delivery?.outcome).toBe('answered');
    expect(delivery?.applied).toBe(true);
    const ack = await acknowledgementOf('card-ack', 'Acknowledged');
    expect(ack).toMatchObject({ by: { userId: 'zhangsan', name: '张三' }, via: 'Card' });
    const shown = await cardOf('card-ack');
    expect(shown.cardParamMap).toMatchObject({ state: 'Acknowledged', stateText: 'acknowledged by 张三' });
  });
});
