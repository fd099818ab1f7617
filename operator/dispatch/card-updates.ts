import type { Logger } from 'pino';
import type { Acknowledgement, AlarmEventStatus } from '../api/index.ts';
import { isDingTalkError } from '../dingtalk/index.ts';
import { type Component, type CustomObject, cachesSynced, type OperatorContext } from '../manager/context.ts';
import { recordCall } from '../quota/billing.ts';
import type { InformerEvent } from '../runtime/informer.ts';
import { cardTargetOf, rulesOfEvent } from './ack-context.ts';
import { stateData } from './card-data.ts';
import { cardsOfEvent } from './card-identity.ts';
import { writeStatusFields } from './status-fields.ts';

/** How often events are looked at again, so an update DingTalk refused for a passing reason is retried. */
const RESYNC_MS = 30_000;

/** What a card shows of an acknowledgement: its action and time, one value per change. */
export function shownAs(ack: Acknowledgement): string {
  return `${ack.action} ${ack.at}`;
}

/**
 * Keeps the alarm cards in step with status.acknowledgement, on the leader: when the acknowledgement
 * changes (a click on any replica, or the kubectl annotation), each card of the event's ledger is
 * updated in place once (state line, buttons), then status.cardsShow records that change, so a
 * restart or takeover updates no card twice and repeats never update one: every update is a call
 * against the org's monthly API quota. A clicked card already changed with the click's answer; its
 * update here is the one call that also reaches a card answered late or another card of the alarm.
 * Each update counts against the app's monthly quota (quota/), as the card's create did.
 */
export class CardUpdates implements Component {
  readonly name = 'card-updates';
  readonly #ctx: OperatorContext;
  readonly #log: Logger;
  readonly #busy = new Set<string>();
  readonly #running = new Set<Promise<void>>();
  #unsubscribe: (() => void)[] = [];
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(ctx: OperatorContext) {
    this.#ctx = ctx;
    this.#log = ctx.logger.child({ component: 'card-updates' });
  }

  async start(signal: AbortSignal): Promise<void> {
    const { caches } = this.#ctx;
    await cachesSynced([caches.alarms, caches.rules, caches.services, caches.secrets], signal);
    if (signal.aborted || this.#stopped) return;
    for (const informer of caches.alarms.informers)
      this.#unsubscribe.push(informer.onEvent((event) => this.#onEvent(event)));
    this.#timer = setInterval(() => this.#resync(), RESYNC_MS);
    this.#timer.unref();
    this.#resync();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    await Promise.allSettled([...this.#running]);
  }

  #onEvent(event: InformerEvent<CustomObject>): void {
    if (event.type !== 'delete') this.#consider(event.object);
  }

  #resync(): void {
    for (const raw of this.#ctx.caches.alarms.list()) this.#consider(raw);
  }

  #consider(raw: Readonly<CustomObject>): void {
    const uid = raw.metadata?.uid ?? '';
    const status = raw.status as AlarmEventStatus | undefined;
    const ack = status?.acknowledgement;
    if (this.#stopped || !ack || status?.cardsShow === shownAs(ack) || this.#busy.has(uid)) return;
    const cards = cardsOfEvent(raw.metadata?.namespace ?? '', status);
    if (cards.size === 0) return;
    this.#busy.add(uid);
    const run = this.#update(raw, ack, cards)
      .catch((err) =>
        this.#log.warn(
          { err, alarmEvent: `${raw.metadata?.namespace}/${raw.metadata?.name}` },
          'card not updated',
        ),
      )
      .finally(() => {
        this.#busy.delete(uid);
        this.#running.delete(run);
      });
    this.#running.add(run);
  }

  async #update(
    raw: Readonly<CustomObject>,
    ack: Acknowledgement,
    cards: ReturnType<typeof cardsOfEvent>,
  ): Promise<void> {
    const { caches, dingtalk, kube, quota } = this.#ctx;
    const namespace = raw.metadata?.namespace ?? '';
    const rules = rulesOfEvent(caches, namespace, raw.status as AlarmEventStatus);
    for (const [outTrackId, delivery] of cards) {
      const target = cardTargetOf(caches, namespace, rules, delivery);
      // A card whose rule or service is gone keeps what it shows: nothing can sign its update.
      if (!target) continue;
      const cardParamMap = stateData(ack, target.interactive);
      const call = { namespace, service: delivery.service, bucket: { kind: 'App' } } as const;
      try {
        await dingtalk.cards.update(target.app, { outTrackId, cardParamMap, byKey: true });
        recordCall(quota, call);
      } catch (err) {
        recordCall(quota, call, err);
        // A passing failure is tried again at the next look; a refusal (the card is gone, say) would
        // only be refused again, each time a call against the quota: it is logged and given up.
        if (!isDingTalkError(err) || err.errorClass !== 'permanent') throw err;
        this.#log.warn(
          { outTrackId, errcode: err.errcode, alarmEvent: `${namespace}/${raw.metadata?.name}` },
          'DingTalk refused the card update; the card keeps what it shows',
        );
      }
    }
    const shown = shownAs(ack);
    await writeStatusFields(
      kube,
      { namespace, name: raw.metadata?.name ?? '' },
      (event) => {
        const now = (event.status as AlarmEventStatus | undefined)?.acknowledgement;
        // Changed meanwhile: the next change's update records its own.
        return now && shownAs(now) === shown ? { cardsShow: shown } : undefined;
      },
      raw,
    );
  }
}
