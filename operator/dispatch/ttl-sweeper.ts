import type { Logger } from 'pino';
import { ALARM_EVENT_PLURAL, GROUP, VERSION } from '../api/index.ts';
import { isNotFound } from '../errors.ts';
import type { Component, OperatorContext } from '../manager/context.ts';
import { mapConcurrently } from '../runtime/concurrency.ts';
import { objectPath } from '../runtime/kube-path.ts';

/**
 * Deletes in flight at a time: one after another, a storm's 10,000 finished events took longer to delete
 * than the next storm took to arrive, and the cache grew from storm to storm.
 */
const DELETE_CONCURRENCY = 8;

/** Deletes AlarmEvents whose phase has been final for longer than the TTL, so etcd does not fill up. */
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
      const finishedAt = (event.status as { finishedAt?: string } | undefined)?.finishedAt;
      return finishedAt !== undefined && now - Date.parse(finishedAt) >= ttl;
    });
    let deleted = 0;
    await mapConcurrently(expired, DELETE_CONCURRENCY, async (event) => {
      const { namespace = '', name = '' } = event.metadata ?? {};
      try {
        await this.#ctx.kube.delete(
          objectPath({ group: GROUP, version: VERSION, plural: ALARM_EVENT_PLURAL, namespace, name }),
        );
        deleted++;
      } catch (err) {
        if (!isNotFound(err))
          this.#log.warn({ err, namespace, name }, 'could not delete an expired AlarmEvent');
      }
    });
    if (deleted > 0) this.#log.info({ deleted }, 'deleted expired AlarmEvents');
    return deleted;
  }
}
