import type { AckAction, Acknowledgement, AlarmEventStatus, Delivery } from '../api/index.ts';
import type { CardCallback } from '../dingtalk/index.ts';
import type { CustomObject } from '../manager/context.ts';
import { type AckDecision, decideAcknowledgement, type Offered } from './acknowledgement.ts';
import { cardEntriesOfEvent, looksLikeTrackId } from './card-identity.ts';

/**
 * From a card click to an acknowledgement decision, pure: which action the button asks for, which
 * events the card was sent for (through their ledgers, as the informer cache has them), and what the
 * shared decision makes of it for the member who clicked.
 */

/** The button's params, as examples/dingtalk/card-template.json defines them: {action, snooze?}. */
export interface ClickAction {
  action: AckAction;
  snooze?: string;
}

const ACTIONS: Record<string, AckAction> = {
  acknowledge: 'Acknowledge',
  snooze: 'Snooze',
  resolve: 'Resolve',
};

/** What the click asks for; undefined for a button this operator's template does not have. */
export function clickAction(callback: Pick<CardCallback, 'actionIds' | 'params'>): ClickAction | undefined {
  const named = typeof callback.params.action === 'string' ? callback.params.action : callback.actionIds[0];
  const action = ACTIONS[(named ?? '').toLowerCase()];
  if (!action) return undefined;
  const snooze = callback.params.snooze;
  return action === 'Snooze' && typeof snooze === 'string' ? { action, snooze } : { action };
}

/** An event a card was sent for, with the ledger entry that derives the card's outTrackId. */
export interface CardEvent {
  raw: Readonly<CustomObject>;
  namespace: string;
  delivery: Delivery;
}

/** The events whose ledgers derive `outTrackId`: one, or each alarm of a digest's card. */
export function eventsOfCard(alarms: Iterable<Readonly<CustomObject>>, outTrackId: string): CardEvent[] {
  if (!looksLikeTrackId(outTrackId)) return [];
  const found: CardEvent[] = [];
  for (const raw of alarms) {
    const namespace = raw.metadata?.namespace ?? '';
    const delivery = cardEntriesOfEvent(namespace, raw.status as AlarmEventStatus | undefined).get(
      outTrackId,
    );
    if (delivery) found.push({ raw, namespace, delivery });
  }
  return found;
}

export interface ClickJudgement {
  /** The event as it is now (the cache's, or fresh from the API server when writing). */
  event: Readonly<CustomObject>;
  /** The event the card was sent for. */
  cardFor: { namespace: string; name: string; uid: string };
  click: ClickAction;
  userId: string;
  /** The userIds of the member set the card went to, or of those who may act on a group's card. */
  members: ReadonlySet<string>;
  /** The group (spec.member.groups) the card went to; none for a card to members one to one. */
  group?: string;
  offered: Offered;
  nameOf: (userId: string) => string | undefined;
  now: number;
}

/** The shared decision for a click: the member must be one the card went to; the action one offered. */
export function decideClick(judgement: ClickJudgement): AckDecision {
  const { event } = judgement;
  const spec = event.spec as { state?: 'firing' | 'resolved' } | undefined;
  return decideAcknowledgement({
    event: {
      namespace: event.metadata?.namespace ?? '',
      name: event.metadata?.name ?? '',
      uid: event.metadata?.uid ?? '',
      state: spec?.state ?? 'firing',
      acknowledgement: (event.status as { acknowledgement?: Acknowledgement } | undefined)?.acknowledgement,
    },
    cardFor: judgement.cardFor,
    action: judgement.click.action,
    ...(judgement.click.snooze ? { snooze: judgement.click.snooze } : {}),
    userId: judgement.userId,
    via: 'Card',
    audience:
      judgement.group === undefined
        ? { kind: 'Members', userIds: judgement.members }
        : { kind: 'Group', name: judgement.group, userIds: judgement.members },
    offered: judgement.offered,
    nameOf: judgement.nameOf,
    now: judgement.now,
  });
}
