import type { Logger } from 'pino';
import { ALARM_EVENT_PLURAL, type AlarmEventStatus, GROUP, VERSION } from '../api/index.ts';
import { isConflict, isNotFound } from '../errors.ts';
import type { Component, CustomObject, OperatorContext } from '../manager/context.ts';
import { mapConcurrently } from '../runtime/concurrency.ts';
import { get } from '../runtime/conditions.ts';
import { objectPath } from '../runtime/kube-path.ts';
import { RESOLVED_CONDITION, recordsResolved } from './resolution.ts';

/**
 * Deletes in flight at a time: one after another, a storm's 10,000 finished events took longer to delete
 * than the next storm took to arrive, and the cache grew from storm to storm.
 */
const DELETE_CONCURRENCY = 8;

/**
 * Deletes resolved AlarmEvents finished for longer than the TTL, so etcd does not fill up. A firing
 * event is kept however long it fires: deleting it would end its repeats and make the source's next
 * post a new alarm. Each delete is conditional on the version read, so an event changed meanwhile (a
 * re-fire, say) is left for the next sweep to judge again.
 */
export class TtlSweeper implements Component {
  readonly name = 'alarmevent-ttl';
  readonly #ctx: OperatorContext;
  readonly #log: Logger;
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | undefined;
  #sweeping: Promise<void> | undefined;

  constructor(
    ctx: OperatorContext,
    intervalMs = Math.min(60_000, Math.max(1_000, ctx.config.eventTtl / 10)),
  ) {
    this.#ctx = ctx;
    this.#log = ctx.logger.child({ component: this.name });
    this.#intervalMs = intervalMs;
  }

  async start(signal: AbortSignal): Promise<void> {
    await Promise.all(this.#ctx.caches.alarms.informers.map((informer) => informer.waitForSync(signal)));
    this.#timer = setInterval(() => {
      this.#sweeping ??= this.sweep()
        .then(
          () => undefined,
          () => undefined,
        )
        .finally(() => {
          this.#sweeping = undefined;
        });
    }, this.#intervalMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#sweeping;
  }

  async sweep(now = Date.now()): Promise<number> {
    const ttl = this.#ctx.config.eventTtl;
    const expired = this.#ctx.caches.alarms.list().filter((event) => {
      const from = ttlStart(event);
      return from !== undefined && now - from >= ttl;
    });
    let deleted = 0;
    await mapConcurrently(expired, DELETE_CONCURRENCY, async (event) => {
      const { namespace = '', name = '', uid, resourceVersion } = event.metadata ?? {};
      try {
        await this.#ctx.kube.delete(
          objectPath({ group: GROUP, version: VERSION, plural: ALARM_EVENT_PLURAL, namespace, name }),
          { body: { preconditions: { uid, resourceVersion } } },
        );
        deleted++;
      } catch (err) {
        if (!isNotFound(err) && !isConflict(err))
          this.#log.warn({ err, namespace, name }, 'could not delete an expired AlarmEvent');
      }
    });
    if (deleted > 0) this.#log.info({ deleted }, 'deleted expired AlarmEvents');
    return deleted;
  }
}

/**
 * When an event's TTL started: when it finished or its resolve was recorded, whichever came later.
 * Undefined while it is kept: firing (and not resolved by a person), not finished, or resolved but its resolved notification not yet
 * recorded (the sweep would otherwise race the dispatcher for it).
 */
export function ttlStart(event: Readonly<CustomObject>): number | undefined {
  const spec = event.spec as { state?: string } | undefined;
  const status = event.status as AlarmEventStatus | undefined;
  // A person's resolve (status.acknowledgement) ends the alarm as the source's would.
  const resolved = spec?.state === 'resolved' || status?.acknowledgement?.action === 'Resolved';
  if (!resolved || !status?.finishedAt || !recordsResolved(status)) return undefined;
  const resolvedAt = get({ status }, RESOLVED_CONDITION)?.lastTransitionTime;
  return Math.max(Date.parse(status.finishedAt), resolvedAt ? Date.parse(resolvedAt) : 0);
}
