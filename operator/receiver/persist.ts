import { mapConcurrently } from '../runtime/concurrency.ts';
import type { ReceivedAlarm } from './intake.ts';
import type { WriteResult } from './metrics.ts';
import type { AlarmEventStore } from './store.ts';

/**
 * Writes received alarms as AlarmEvents: a firing alarm is created (already there: a retry, left alone);
 * a resolved one resolves the event of the same name, or is created resolved when that event is unknown
 * (never seen, or already deleted after its TTL). Resolves only when every write is done; the first
 * failure rejects, and a retried request completes what was left.
 */

const CONCURRENCY = 8;

export interface Written {
  name: string;
  state: 'firing' | 'resolved';
  result: WriteResult;
}

export async function persist(
  store: AlarmEventStore,
  namespace: string,
  alarms: readonly ReceivedAlarm[],
  annotations: Record<string, string>,
): Promise<Written[]> {
  const write = async ({ name, spec }: ReceivedAlarm): Promise<Written> => {
    const create = () => store.create({ namespace, name, spec, annotations });
    let result: WriteResult;
    if (spec.state === 'firing') {
      result = await create();
    } else {
      const endsAt = spec.endsAt ?? new Date().toISOString();
      result = (await store.resolve(namespace, name, endsAt)) === 'resolved' ? 'resolved' : await create();
      // Created by a firing notification in between: resolve that one.
      if (result === 'exists')
        result = (await store.resolve(namespace, name, endsAt)) === 'resolved' ? 'resolved' : result;
    }
    return { name, state: spec.state, result };
  };
  return mapConcurrently(alarms, CONCURRENCY, write);
}
