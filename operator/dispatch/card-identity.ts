import { createHash } from 'node:crypto';
import type { AlarmEventStatus, Delivery } from '../api/index.ts';

/**
 * Which card belongs to which alarm, recoverable from the cluster alone. A card's outTrackId is a hash
 * of the event's namespace, the ledger entry's target and the msgUuid the entry records before the
 * card goes out: a retry, a restart or a takeover sending the notification again uses the same
 * outTrackId (createAndDeliver keeps one card per outTrackId), and a click's outTrackId leads back to
 * the events whose ledger entries derive it, in their own namespace only. A digest's card is recorded
 * under the same msgUuid on every event it covers, so a click on it acts on each of them.
 */

/** What an outTrackId is derived from: a ledger entry of a card target with its msgUuid. */
export type CardEntry = Pick<Delivery, 'service' | 'targetKind' | 'targetName'> & { msgUuid: string };

const PREFIX = 'alarm-';

export function cardTrackId(namespace: string, entry: CardEntry): string {
  const source = JSON.stringify([
    namespace,
    entry.service,
    entry.targetKind,
    entry.targetName,
    entry.msgUuid,
  ]);
  return PREFIX + createHash('sha256').update(source).digest('hex').slice(0, 40);
}

/** True for text shaped like an outTrackId this operator makes; anything else is no card of ours. */
export function looksLikeTrackId(outTrackId: string): boolean {
  return /^alarm-[0-9a-f]{40}$/.test(outTrackId);
}

/**
 * The cards an event's ledger may have sent, by outTrackId: every entry of a member set or of a group
 * reached through the app's robot with a msgUuid, the
 * card under way included (a click may come before the ledger records it delivered). A click names
 * one only if DingTalk has a card under that outTrackId, which only this operator could create.
 */
export function cardEntriesOfEvent(
  namespace: string,
  status: AlarmEventStatus | undefined,
): Map<string, Delivery> {
  const cards = new Map<string, Delivery>();
  for (const delivery of status?.deliveries ?? []) {
    if (delivery.targetKind === 'Group' || !delivery.msgUuid || delivery.ruleNamespace !== namespace)
      continue;
    cards.set(cardTrackId(namespace, { ...delivery, msgUuid: delivery.msgUuid }), delivery);
  }
  return cards;
}

/**
 * The cards the ledger records as sent: entries whose messageId is their outTrackId, as a delivered card
 * records it (a plain message records DingTalk's processQueryKey there). Only these are worth an update.
 */
export function cardsOfEvent(namespace: string, status: AlarmEventStatus | undefined): Map<string, Delivery> {
  const entries = cardEntriesOfEvent(namespace, status);
  for (const [outTrackId, delivery] of entries)
    if (delivery.messageId !== outTrackId) entries.delete(outTrackId);
  return entries;
}
