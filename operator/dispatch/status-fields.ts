import { ALARM_EVENT_PLURAL, type AlarmEventStatus, GROUP, VERSION } from '../api/index.ts';
import { isConflict, isNotFound } from '../errors.ts';
import type { CustomObject } from '../manager/context.ts';
import type { KubeHttp } from '../runtime/kube-http.ts';
import { objectPath } from '../runtime/kube-path.ts';
import { mergePatch } from '../runtime/status.ts';

/**
 * The status fields written beside the delivery ledger: acknowledgements (from any replica, for a card),
 * what the cards show and the escalation ledger. The EventStatusStore's patches carry only what it changed, so neither
 * writer undoes the other's fields.
 */
export type StatusFields = Partial<
  Pick<AlarmEventStatus, 'acknowledgement' | 'ackAnnotation' | 'escalations' | 'cardsShow'>
>;

/** Writes after a conflict before giving up: a busy event's ledger is written often. */
const CONFLICT_RETRIES = 5;

/**
 * Writes what `decide` makes of an AlarmEvent to its status, on the version it was decided from: a
 * write in between (the ledger, another replica's click) makes it read the event again and decide
 * again, so two actions never overwrite each other unseen. `decide` returns undefined to write nothing.
 * Resolves with the object written (or the one decided on when nothing was written); undefined when
 * the event is gone.
 */
export async function writeStatusFields(
  kube: KubeHttp,
  ref: { namespace: string; name: string },
  decide: (event: Readonly<CustomObject>) => StatusFields | undefined,
  cached?: Readonly<CustomObject>,
): Promise<Readonly<CustomObject> | undefined> {
  const { namespace, name } = ref;
  const path = objectPath({ group: GROUP, version: VERSION, plural: ALARM_EVENT_PLURAL, namespace, name });
  let event = cached;
  for (let conflicts = 0; ; conflicts++) {
    try {
      event ??= await kube.get<CustomObject>(path);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    const status = (event.status ?? {}) as AlarmEventStatus;
    const fields = decide(event);
    const before = Object.fromEntries(
      Object.keys(fields ?? {}).map((key) => [key, status[key as keyof StatusFields]]),
    );
    const patch = fields && mergePatch(before, fields);
    if (patch === undefined) return event;
    try {
      return await kube.mergePatch<CustomObject>(`${path}/status`, {
        metadata: { resourceVersion: event.metadata?.resourceVersion },
        status: patch,
      });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      if (!isConflict(err) || conflicts >= CONFLICT_RETRIES) throw err;
      event = undefined;
    }
  }
}
