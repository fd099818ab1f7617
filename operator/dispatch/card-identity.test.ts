import { describe, expect, it } from 'vitest';
import type { AlarmEventStatus } from '../api/index.ts';
import { cardEntriesOfEvent, cardsOfEvent, cardTrackId, looksLikeTrackId } from './card-identity.ts';

const entry = { service: 'oncall', targetKind: 'Member' as const, targetName: 'members', msgUuid: 'm-1' };

describe('card outTrackIds', () => {
  it('derives the same outTrackId from the same ledger entry, so a re-send makes no second card', () => {
    expect(cardTrackId('team-a', entry)).toBe(cardTrackId('team-a', { ...entry }));
    expect(looksLikeTrackId(cardTrackId('team-a', entry))).toBe(true);
  });

  it('gives another namespace, target or notification another outTrackId', () => {
    const id = cardTrackId('team-a', entry);
    expect(cardTrackId('team-b', entry)).not.toBe(id);
    expect(cardTrackId('team-a', { ...entry, service: 'other' })).not.toBe(id);
    expect(cardTrackId('team-a', { ...entry, msgUuid: 'm-2' })).not.toBe(id);
  });

  it('finds the cards of an event from its ledger: member sets sent a card, in its namespace only', () => {
    const base = { ruleNamespace: 'team-a', rule: 'r', state: 'Delivered' as const };
    const card = cardTrackId('team-a', entry);
    const status = {
      deliveries: [
        {
          ...base,
          service: 'oncall',
          targetKind: 'Member',
          targetName: 'members',
          msgUuid: 'm-1',
          messageId: card,
        },
        {
          ...base,
          service: 'plain',
          targetKind: 'Member',
          targetName: 'members',
          msgUuid: 'm-2',
          messageId: 'pqk',
        },
        { ...base, service: 'oncall', targetKind: 'Group', targetName: 'ops', msgUuid: 'g-1' },
        { ...base, service: 'oncall', targetKind: 'Member', targetName: 'members' },
        {
          ...base,
          ruleNamespace: 'team-b',
          service: 'x',
          targetKind: 'Member',
          targetName: 'members',
          msgUuid: 'm-3',
        },
      ],
    } as AlarmEventStatus;
    const cards = cardsOfEvent('team-a', status);
    expect([...cards.keys()]).toEqual([cardTrackId('team-a', entry)]);
    // A click may come before the ledger records the card delivered: every member entry may name one.
    expect(cardEntriesOfEvent('team-a', status).size).toBe(2);
    expect(cardsOfEvent('team-a', undefined).size).toBe(0);
  });
});
