import {
  type AckAction,
  type Acknowledgement,
  DEFAULT_SNOOZE_DURATIONS,
  DingTalkConditionReason,
  Duration,
  durationToMilliseconds,
  type Interactive,
} from '../api/index.ts';
import type { EventInput } from '../runtime/events.ts';
import { timestamp } from './ledger.ts';

/**
 * What an acknowledgement (a card's button, or the kubectl annotation) does to an AlarmEvent: pure, so
 * the Stream callback handler and the annotation handler come to the same answer, and a click or an
 * annotation handled twice (a redelivered callback, a restart) changes nothing the second time.
 */

/** The AlarmEvent acted on, as the caller read it. */
export interface AckEvent {
  namespace: string;
  name: string;
  uid: string;
  state: 'firing' | 'resolved';
  acknowledgement?: Acknowledgement;
}

/**
 * Who may act. Members: the member set the card went to (userIds). Group: a group the card went to
 * through the app's robot; those who may act on its card are checked when the caller knows them (the
 * service's members the rule picks), else DingTalk's word that the click came from the group is taken
 * and said so. Kubernetes: the annotation, which RBAC on the event already allowed.
 */
export type Audience =
  | { kind: 'Members'; userIds: ReadonlySet<string> }
  | { kind: 'Group'; name: string; userIds?: ReadonlySet<string> }
  | { kind: 'Kubernetes' };

/** What the event's rules offer (spec.interactive), merged. */
export interface Offered {
  actions: ReadonlySet<AckAction>;
  snoozeDurations: readonly string[];
}

export interface AckRequest {
  /** The event as found now; undefined when there is none of that name. */
  event: AckEvent | undefined;
  /** A card: the event it was sent for (from its outTrackId); an event of another uid is another alarm. */
  cardFor?: { namespace: string; name: string; uid: string };
  action: AckAction;
  /** Snooze: for how long, e.g. 30m. */
  snooze?: string;
  /** DingTalk userId of who acted: given by DingTalk for a card, by ack-by for the annotation. */
  userId?: string;
  via: Acknowledgement['via'];
  audience: Audience;
  offered: Offered;
  /** Display names from the services' member lists. */
  nameOf: (userId: string) => string | undefined;
  now: number;
}

/** Why an acknowledgement is refused; stable, and explained in docs/troubleshooting.md. */
export const AckRefusal = {
  UnknownEvent: DingTalkConditionReason.UnknownEvent,
  NotAMember: DingTalkConditionReason.NotAMember,
  ActionNotOffered: DingTalkConditionReason.ActionNotOffered,
  InvalidSnooze: DingTalkConditionReason.InvalidSnooze,
  AlreadyResolved: DingTalkConditionReason.AlreadyResolved,
  /** The annotation's value is none of acknowledge, snooze=<duration> or resolve, or ack-by is no userId. */
  InvalidAnnotation: DingTalkConditionReason.InvalidAnnotation,
} as const;
export type AckRefusal = (typeof AckRefusal)[keyof typeof AckRefusal];

export type AckDecision =
  /** Write `acknowledgement` to the event's status; `message` says what happened, for an Event. */
  | { outcome: 'Recorded'; acknowledgement: Acknowledgement; message: string }
  /** Already so: nothing to write. */
  | { outcome: 'Unchanged'; acknowledgement: Acknowledgement; message: string }
  | { outcome: 'Refused'; reason: AckRefusal; message: string };

const STATE_OF: Record<AckAction, Acknowledgement['action']> = {
  Acknowledge: 'Acknowledged',
  Snooze: 'Snoozed',
  Resolve: 'Resolved',
};

export function decideAcknowledgement(request: AckRequest): AckDecision {
  const { event, cardFor, action, via, userId, now } = request;
  if (!event || (cardFor && (cardFor.uid !== event.uid || cardFor.namespace !== event.namespace)))
    return refused('UnknownEvent', 'no such AlarmEvent: the alarm the card was for is gone');
  if (!request.offered.actions.has(action))
    return refused(
      'ActionNotOffered',
      `no AlarmRule of this alarm offers ${action} (spec.interactive.actions)`,
    );
  const membership = checkMembership(request.audience, via, userId);
  if ('refusal' in membership) return membership.refusal;
  const current = event.acknowledgement;
  if (current?.action === 'Resolved' || event.state === 'resolved') {
    return action === 'Resolve' && current?.action === 'Resolved'
      ? { outcome: 'Unchanged', acknowledgement: current, message: 'already resolved' }
      : refused('AlreadyResolved', 'the alarm is resolved; nothing is sent for it any more');
  }
  let untilMs: number | undefined;
  if (action === 'Snooze') {
    const snooze = snoozeMs(request);
    if (typeof snooze === 'string') return refused('InvalidSnooze', snooze);
    untilMs = now + snooze;
    if (
      current?.action === 'Snoozed' &&
      current.by?.userId === userId &&
      Date.parse(current.until ?? '') > now &&
      Date.parse(current.until ?? '') - Date.parse(current.at) === snooze
    )
      return { outcome: 'Unchanged', acknowledgement: current, message: 'already snoozed so' };
  }
  // The first claim stands: a second Acknowledge (a double click, or a colleague's) changes nothing.
  if (action === 'Acknowledge' && current?.action === 'Acknowledged')
    return { outcome: 'Unchanged', acknowledgement: current, message: 'already acknowledged' };
  const acknowledgement: Acknowledgement = {
    action: STATE_OF[action],
    ...(userId ? { by: { userId, name: request.nameOf(userId) ?? userId } } : {}),
    at: timestamp(now),
    ...(untilMs !== undefined ? { until: timestamp(untilMs) } : {}),
    via,
    ...(membership.unverified ? { unverified: membership.unverified } : {}),
  };
  return { outcome: 'Recorded', acknowledgement, message: describeAcknowledgement(acknowledgement) };
}

/** What the event's rules offer; a rule without spec.interactive offers nothing. */
export function offeredBy(rules: readonly (Interactive | undefined)[]): Offered {
  const actions = new Set<AckAction>();
  const durations = new Set<string>();
  for (const interactive of rules) {
    if (!interactive) continue;
    for (const action of interactive.actions) actions.add(action);
    if (interactive.actions.includes('Snooze'))
      for (const d of interactive.snoozeDurations ?? DEFAULT_SNOOZE_DURATIONS) durations.add(d);
  }
  return { actions, snoozeDurations: [...durations] };
}

/**
 * The Kubernetes Event for a decision, on the AlarmEvent: Normal for a recorded action, Warning for a
 * refusal; none when nothing changed. `source` names what asked, e.g. the annotation and its value.
 */
export function acknowledgementEvent(decision: AckDecision, source: string): EventInput | undefined {
  if (decision.outcome === 'Recorded')
    return {
      type: 'Normal',
      reason: decision.acknowledgement.action,
      action: 'Acknowledge',
      note: `${decision.message} (${source})`,
    };
  if (decision.outcome === 'Refused')
    return {
      type: 'Warning',
      reason: decision.reason,
      action: 'Acknowledge',
      note: `${source} refused: ${decision.message}`,
    };
  return undefined;
}

/** "acknowledged by Zhang San (u1) via Card", for Events and logs. */
export function describeAcknowledgement(ack: Acknowledgement): string {
  const verb = { Acknowledged: 'acknowledged', Snoozed: 'snoozed', Resolved: 'resolved' }[ack.action];
  const by = ack.by?.userId
    ? ` by ${ack.by.name && ack.by.name !== ack.by.userId ? `${ack.by.name} (${ack.by.userId})` : ack.by.userId}`
    : '';
  const until = ack.until ? ` until ${ack.until}` : '';
  return `${verb}${until}${by} via ${ack.via}${ack.unverified ? ` (${ack.unverified})` : ''}`;
}

/** The acknowledgement of an AlarmEvent as cached, if it is the object of `uid`. */
export function acknowledgementOf(
  raw: { metadata?: { uid?: string }; status?: unknown } | undefined,
  uid: string,
): Acknowledgement | undefined {
  if (raw?.metadata?.uid !== uid) return undefined;
  return (raw.status as { acknowledgement?: Acknowledgement } | undefined)?.acknowledgement;
}

/** True while the alarm is not to be repeated: acknowledged, resolved, or snoozed until later. */
export function repeatsPaused(ack: Acknowledgement | undefined, now: number): boolean {
  if (!ack) return false;
  if (ack.action === 'Snoozed') return Date.parse(ack.until ?? '') > now;
  return true;
}

/**
 * Where escalation stands for the alarm: stopped for good (acknowledged or resolved), deferred until
 * a snooze ends, or going on.
 */
export function escalationHold(ack: Acknowledgement | undefined): 'stopped' | { until: number } | undefined {
  if (!ack) return undefined;
  if (ack.action === 'Snoozed') return { until: Date.parse(ack.until ?? '') || 0 };
  return 'stopped';
}

function checkMembership(
  audience: Audience,
  via: Acknowledgement['via'],
  userId: string | undefined,
): { unverified?: string } | { refusal: AckDecision } {
  if (audience.kind === 'Kubernetes') return {};
  if (!userId) return { refusal: refused('NotAMember', `a ${via} action without a userId is not trusted`) };
  if (audience.kind === 'Members')
    return audience.userIds.has(userId)
      ? {}
      : { refusal: refused('NotAMember', `${userId} is not one of the members the card went to`) };
  if (!audience.userIds)
    return { unverified: `membership of group ${audience.name} not checked: DingTalk's word taken` };
  return audience.userIds.has(userId)
    ? {}
    : {
        refusal: refused(
          'NotAMember',
          `${userId} is not one of the members who may act on the cards of group ${audience.name} (the service's members the rule picks)`,
        ),
      };
}

/** The snooze's length in ms, or why it cannot be had. */
function snoozeMs({ snooze, via, offered }: AckRequest): number | string {
  if (!snooze || !Duration.safeParse(snooze).success)
    return `snooze needs a duration such as 30m or 2h, not "${snooze ?? ''}"`;
  const ms = durationToMilliseconds(snooze);
  const offeredMs = offered.snoozeDurations.map(durationToMilliseconds);
  if (ms <= 0) return 'snooze needs a duration longer than zero';
  // A button offers its own durations; at a terminal any duration up to the longest offered will do.
  if (via === 'Card' ? !offeredMs.includes(ms) : ms > Math.max(0, ...offeredMs))
    return `snooze for ${snooze} is not offered (spec.interactive.snoozeDurations: ${offered.snoozeDurations.join(', ')})`;
  return ms;
}

function refused(reason: AckRefusal, message: string): AckDecision {
  return { outcome: 'Refused', reason, message };
}
