import { toKubeApiError } from '../errors.ts';
import { mapConcurrently } from '../runtime/concurrency.ts';
import { NamespaceOverRateError } from './errors.ts';
import type { ReceivedAlarm } from './intake.ts';
import type { WriteResult } from './metrics.ts';
import type { AlarmEventStore } from './store.ts';
import { TtlCache } from './ttl-cache.ts';

/**
 * Writes received alarms as AlarmEvents, `concurrency` at a time: a firing alarm is created (already
 * there: a retry, left alone); a resolved one resolves the event of the same name, or is created resolved
 * when that event is unknown (never seen, or already deleted after its TTL).
 *
 * Every write is idempotent, so writing may stop part-way and a retried request finishes the job. It
 * stops starting writes once the deadline has passed, the namespace's rate is spent (`mayWrite`) or the
 * API server cannot take them (or its ResourceQuota refuses); what was written is written, the rest is
 * `left` for the retry. The first `concurrency` writes start whatever the deadline: reading and checking
 * a large payload on a busy machine can take the whole deadline, and without them every retry would
 * spend it the same way and store nothing. An alarm the API server refuses for good (400, 422) is
 * `refused` and costs no other alarm.
 */

export interface Written {
  name: string;
  state: 'firing' | 'resolved';
  result: WriteResult;
}

export interface Refused {
  alarm: ReceivedAlarm;
  error: unknown;
}

export interface PersistOutcome {
  written: Written[];
  refused: Refused[];
  /** Alarms not attempted, because of the deadline or `stoppedBy`. */
  left: number;
  /**
   * The failure that stopped writing (API server unavailable, namespace over its rate or quota, namespace
   * missing, access denied).
   */
  stoppedBy?: unknown;
}

export interface PersistOptions {
  concurrency: number;
  /** Epoch milliseconds after which no write is started. */
  deadline?: number;
  now?: () => number;
  /** What this receiver wrote lately, so a retried or repeated payload costs no API call. */
  recent?: RecentWrites;
  /** Asked before each write: false when the namespace may write no more for now. */
  mayWrite?: () => boolean;
}

export async function persist(
  store: AlarmEventStore,
  namespace: string,
  alarms: readonly ReceivedAlarm[],
  annotations: Record<string, string>,
  { concurrency, deadline, now = Date.now, recent, mayWrite }: PersistOptions,
): Promise<PersistOutcome> {
  let stoppedBy: unknown;
  let started = 0;
  type Result = { written: Written } | { refused: Refused } | 'left';
  const write = async (alarm: ReceivedAlarm): Promise<Result> => {
    const { name, spec } = alarm;
    if (recent?.has(namespace, name, spec.state)) {
      return { written: { name, state: spec.state, result: 'exists' } };
    }
    if (stoppedBy !== undefined) return 'left';
    if (started >= concurrency && deadline !== undefined && now() >= deadline) return 'left';
    if (mayWrite && !mayWrite()) {
      stoppedBy ??= new NamespaceOverRateError();
      return 'left';
    }
    started++;
    try {
      const result = await writeOne(store, namespace, alarm, annotations);
      recent?.remember(namespace, name, spec.state);
      return { written: { name, state: spec.state, result } };
    } catch (err) {
      const status = toKubeApiError(err)?.status;
      if (status === 400 || status === 422) return { refused: { alarm, error: err } };
      stoppedBy ??= err;
      return 'left';
    }
  };
  // In the order of the payload, whatever order the writes finish in.
  const results = await mapConcurrently(alarms, concurrency, write);
  const outcome: PersistOutcome = { written: [], refused: [], left: 0 };
  for (const result of results) {
    if (result === 'left') outcome.left++;
    else if ('written' in result) outcome.written.push(result.written);
    else outcome.refused.push(result.refused);
  }
  outcome.stoppedBy = stoppedBy;
  return outcome;
}

async function writeOne(
  store: AlarmEventStore,
  namespace: string,
  { name, spec }: ReceivedAlarm,
  annotations: Record<string, string>,
): Promise<WriteResult> {
  const create = () => store.create({ namespace, name, spec, annotations });
  if (spec.state === 'firing') return create();
  const endsAt = spec.endsAt ?? new Date().toISOString();
  let result: WriteResult =
    (await store.resolve(namespace, name, endsAt)) === 'resolved' ? 'resolved' : await create();
  // Created by a firing notification in between: resolve that one.
  if (result === 'exists')
    result = (await store.resolve(namespace, name, endsAt)) === 'resolved' ? 'resolved' : result;
  return result;
}

/**
 * The AlarmEvents this receiver wrote lately and in which state, keyed by namespace and name. Alertmanager
 * re-sends a whole group at every group_interval and retries whole payloads; with this, what is already
 * stored costs no API call. Bounded: the least recently used go first, and every entry expires, after
 * which a repost simply costs one call again (creation answers "exists").
 */
export class RecentWrites {
  readonly #cache: TtlCache<'firing' | 'resolved'>;
  readonly #ttlMs: number;

  constructor({ maxEntries, ttlMs }: { maxEntries: number; ttlMs: number }, now: () => number = Date.now) {
    this.#cache = new TtlCache(maxEntries, now);
    this.#ttlMs = ttlMs;
  }

  /** True when the event is known to be stored in `state` or a later one (resolved follows firing). */
  has(namespace: string, name: string, state: 'firing' | 'resolved'): boolean {
    const known = this.#cache.get(`${namespace}/${name}`);
    return known === state || known === 'resolved';
  }

  remember(namespace: string, name: string, state: 'firing' | 'resolved'): void {
    if (state === 'firing' && this.has(namespace, name, 'resolved')) return;
    this.#cache.set(`${namespace}/${name}`, state, this.#ttlMs);
  }
}
