import type { Logger } from 'pino';
import { type AlarmEventStatus, API_VERSION } from '../api/index.ts';
import type { CardCallback, CardCallbackAnswer } from '../dingtalk/index.ts';
import type { OperatorContext } from '../manager/context.ts';
import { cardTargetOf, memberNamesOf, rulesOfEvent } from './ack-context.ts';
import { type AckDecision, acknowledgementEvent, offeredBy } from './acknowledgement.ts';
import { type CardEvent, type ClickJudgement, clickAction, decideClick, eventsOfCard } from './card-click.ts';
import { stateData } from './card-data.ts';
import { writeStatusFields } from './status-fields.ts';

type ClickContext = Pick<OperatorContext, 'caches' | 'kube' | 'events' | 'members' | 'metrics' | 'logger'>;

/**
 * Card clicks, on whichever replica's Stream connection DingTalk hands them to. The answer (the card's
 * new state line and buttons) is made from the informer cache at once, within DingTalk's deadline; the
 * acknowledgement is then written to the event's status on the version it was decided from, deciding
 * again after a conflict, so a redelivered click or the same click on two replicas is recorded once.
 * A click on no card of this operator's (an unknown outTrackId, a card of another app) or by someone
 * the card did not go to changes nothing, and is counted (card_clicks_total) and logged.
 */
export class CardClicks {
  readonly #ctx: ClickContext;
  readonly #log: Logger;
  readonly #writes = new Set<Promise<void>>();

  constructor(ctx: ClickContext) {
    this.#ctx = ctx;
    this.#log = ctx.logger.child({ component: 'card-clicks' });
  }

  /** A click that came over the Stream connection of the app `clientId`. */
  async handle(clientId: string, callback: CardCallback): Promise<CardCallbackAnswer | undefined> {
    const click = clickAction(callback);
    if (!click)
      return this.#refused(callback, 'UnknownButton', 'the button asks for no action this operator knows');
    const cards = eventsOfCard(this.#ctx.caches.alarms.list(), callback.outTrackId);
    const now = Date.now();
    let answer: CardCallbackAnswer | undefined;
    let refusal: { decision: AckDecision; card: CardEvent } | undefined;
    for (const card of cards) {
      const judged = await this.#judge(clientId, card, callback.userId);
      if (!judged) continue;
      const judgement: ClickJudgement = { ...judged.judgement, click, userId: callback.userId, now };
      const decision = decideClick(judgement);
      if (decision.outcome === 'Refused') {
        refusal ??= { decision, card };
        continue;
      }
      answer ??= { cardParamMap: stateData(decision.acknowledgement, judged.interactive), byKey: true };
      this.#count(callback, decision, card);
      if (decision.outcome === 'Recorded') this.#write(card, judgement);
    }
    if (answer) return answer;
    if (refusal?.decision.outcome === 'Refused') {
      this.#report(
        refusal.card,
        refusal.decision,
        `a card button clicked by ${callback.userId.slice(0, 64)}`,
      );
      return this.#refused(callback, refusal.decision.reason, refusal.decision.message);
    }
    return this.#refused(
      callback,
      'UnknownEvent',
      'no card this operator sent through this app has that outTrackId',
    );
  }

  /** Waits for the status writes under way. */
  async stop(): Promise<void> {
    await Promise.allSettled([...this.#writes]);
  }

  /**
   * What the click is judged against: the rules of the event, and who may act on the card as the
   * rule's target is configured now (the member set it went to, or a group's actors). Undefined when the entry's target does not send through this
   * app: the card is not one this connection can vouch for.
   */
  async #judge(clientId: string, card: CardEvent, userId: string) {
    const { caches, members } = this.#ctx;
    const { raw, namespace, delivery } = card;
    const rules = rulesOfEvent(caches, namespace, (raw.status ?? {}) as AlarmEventStatus);
    const target = cardTargetOf(caches, namespace, rules, delivery);
    if (target?.app.clientId !== clientId) return undefined;
    const userIds = new Set(target.recipients.flatMap((m) => (m.userId ? [m.userId] : [])));
    const byMobile = target.recipients.filter((m) => !m.userId);
    // Members listed by mobile are looked up (cached by the member directory) only when needed.
    if (!userIds.has(userId) && byMobile.length > 0)
      for (const id of (await members.resolve(namespace, { ...target.app, members: byMobile })).userIds)
        userIds.add(id);
    const names = memberNamesOf(caches, namespace, rules);
    const judgement: Omit<ClickJudgement, 'click' | 'userId' | 'now'> = {
      event: raw,
      cardFor: { namespace, name: raw.metadata?.name ?? '', uid: raw.metadata?.uid ?? '' },
      members: userIds,
      ...('group' in target && { group: target.group }),
      offered: offeredBy(rules.map((r) => r.interactive)),
      nameOf: (id) => names.get(id),
    };
    return { judgement, interactive: target.interactive };
  }

  /** Records the acknowledgement, deciding again on the event as the API server has it after a conflict. */
  #write(card: CardEvent, judgement: ClickJudgement): void {
    const ref = { namespace: card.namespace, name: card.raw.metadata?.name ?? '' };
    let made: AckDecision | undefined;
    const write = writeStatusFields(
      this.#ctx.kube,
      ref,
      (event) => {
        made = decideClick({ ...judgement, event });
        return made.outcome === 'Recorded' ? { acknowledgement: made.acknowledgement } : undefined;
      },
      card.raw,
    )
      .then((written) => {
        if (!written || made?.outcome !== 'Recorded') return;
        const regarding = {
          apiVersion: API_VERSION,
          kind: 'AlarmEvent',
          metadata: {
            ...ref,
            uid: written.metadata?.uid,
            resourceVersion: written.metadata?.resourceVersion,
          },
        };
        const event = acknowledgementEvent(made, 'card button');
        if (event) void this.#ctx.events.record(regarding, event);
      })
      .catch((err) =>
        this.#log.warn({ err, alarmEvent: `${ref.namespace}/${ref.name}` }, 'could not record a card click'),
      )
      .finally(() => this.#writes.delete(write));
    this.#writes.add(write);
  }

  /** The Kubernetes Event of a decision on the AlarmEvent, as for the annotation. */
  #report(card: CardEvent, decision: AckDecision, source: string): void {
    const { metadata } = card.raw;
    const regarding = {
      apiVersion: API_VERSION,
      kind: 'AlarmEvent',
      metadata: {
        namespace: card.namespace,
        name: metadata?.name,
        uid: metadata?.uid,
        resourceVersion: metadata?.resourceVersion,
      },
    };
    const event = acknowledgementEvent(decision, source);
    if (event) void this.#ctx.events.record(regarding, event);
  }

  #count(callback: CardCallback, decision: AckDecision, card: CardEvent): void {
    this.#ctx.metrics.recordCardClick(decision.outcome);
    this.#log.info(
      {
        outTrackId: callback.outTrackId,
        userId: callback.userId,
        alarmEvent: `${card.namespace}/${card.raw.metadata?.name}`,
      },
      decision.message,
    );
  }

  #refused(callback: CardCallback, reason: string, message: string): undefined {
    this.#ctx.metrics.recordCardClick(reason);
    // outTrackId and userId are what DingTalk sent, no credential; enough to trace a forged click.
    this.#log.warn(
      { outTrackId: callback.outTrackId.slice(0, 64), userId: callback.userId.slice(0, 64), reason },
      `card click refused: ${message}`,
    );
    return undefined;
  }
}
