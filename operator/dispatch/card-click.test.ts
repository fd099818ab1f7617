import { describe, expect, it } from 'vitest';
import type { CustomObject } from '../manager/context.ts';
import { offeredBy } from './acknowledgement.ts';
import { clickAction, decideClick, eventsOfCard } from './card-click.ts';
import { cardTrackId } from './card-identity.ts';

const delivery = {
  ruleNamespace: 'team-a',
  rule: 'oncall',
  service: 'oncall',
  targetKind: 'Member' as const,
  targetName: 'members',
  state: 'Delivered',
  msgUuid: 'm-1',
  messageId: cardTrackId('team-a', {
    service: 'oncall',
    targetKind: 'Member',
    targetName: 'members',
    msgUuid: 'm-1',
  }),
};
const event = (
  namespace = 'team-a',
  status: object = { deliveries: [{ ...delivery, ruleNamespace: namespace }] },
) =>
  ({
    metadata: { namespace, name: 'disk-full', uid: 'uid-1' },
    spec: { state: 'firing' },
    status,
  }) as CustomObject;
const outTrackId = cardTrackId('team-a', { ...delivery });
const now = Date.parse('2026-01-01T00:00:00Z');

function judge(userId: string, params: Record<string, unknown>, raw = event()) {
  const click = clickAction({ actionIds: [], params });
  if (!click) throw new Error('no action');
  return decideClick({
    event: raw,
    cardFor: { namespace: 'team-a', name: 'disk-full', uid: 'uid-1' },
    click,
    userId,
    members: new Set(['zhangsan']),
    offered: offeredBy([{ actions: ['Acknowledge', 'Snooze'], snoozeDurations: ['30m'] }]),
    nameOf: (id) => (id === 'zhangsan' ? '张三' : undefined),
    now,
  });
}

describe('card clicks', () => {
  it('reads the action from the button params, or its action id', () => {
    expect(clickAction({ actionIds: [], params: { action: 'Snooze', snooze: '30m' } })).toEqual({
      action: 'Snooze',
      snooze: '30m',
    });
    expect(clickAction({ actionIds: ['acknowledge'], params: {} })).toEqual({ action: 'Acknowledge' });
    expect(clickAction({ actionIds: ['delete'], params: {} })).toBeUndefined();
  });

  it('finds the event a card was sent for through its ledger, in its own namespace only', () => {
    expect(eventsOfCard([event()], outTrackId).map((c) => c.namespace)).toEqual(['team-a']);
    expect(eventsOfCard([event('team-b')], outTrackId)).toEqual([]);
    expect(eventsOfCard([event()], 'alarm-forged')).toEqual([]);
  });

  it("records a member's acknowledgement with their name, via Card", () => {
    expect(judge('zhangsan', { action: 'Acknowledge' })).toMatchObject({
      outcome: 'Recorded',
      acknowledgement: { action: 'Acknowledged', by: { userId: 'zhangsan', name: '张三' }, via: 'Card' },
    });
  });

  it('refuses someone the card did not go to, an action not offered and a snooze not on a button', () => {
    expect(judge('mallory', { action: 'Acknowledge' })).toMatchObject({
      outcome: 'Refused',
      reason: 'NotAMember',
    });
    expect(judge('zhangsan', { action: 'Resolve' })).toMatchObject({ reason: 'ActionNotOffered' });
    expect(judge('zhangsan', { action: 'Snooze', snooze: '45m' })).toMatchObject({ reason: 'InvalidSnooze' });
  });

  it('changes nothing for the same click again', () => {
    const first = judge('zhangsan', { action: 'Acknowledge' });
    if (first.outcome !== 'Recorded') throw new Error(first.message);
    const acknowledged = event('team-a', { deliveries: [delivery], acknowledgement: first.acknowledgement });
    expect(judge('zhangsan', { action: 'Acknowledge' }, acknowledged).outcome).toBe('Unchanged');
  });
});
