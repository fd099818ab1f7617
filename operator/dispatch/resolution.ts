import { type AlarmEventStatus, type Delivery, FINISHED_PHASES } from '../api/index.ts';
import { get, markTrue } from '../runtime/conditions.ts';
import type { DeliveryId } from './ledger.ts';

/**
 * An AlarmEvent resolved in place (its spec.state patched from firing to resolved, as the receiver and
 * `kubectl patch` do) goes back to the dispatcher for its resolved notification. Pure functions over
 * one event's status decide when that happens and re-open the ledger for it.
 *
 * The Resolved condition says that the deliveries record the resolved notification, so a finished
 * event is re-opened once: later spec changes (labels, endsAt) leave it alone, across restarts too.
 */

export const RESOLVED_CONDITION = 'Resolved';
const REASON = 'ResolvedNotification';

/** What the dispatcher does with an AlarmEvent it has not taken on, or one whose generation changed. */
export type Intake =
  /** Not finished: dispatch what is not final (for a resolved event, the resolved notification). */
  | 'dispatch'
  /** Finished, nothing new to send: it only tells groups which alarms were notified. */
  | 'finished'
  /** Finished, but resolved since: re-open the ledger for the resolved notification. */
  | 'reopen';

export interface EventView {
  generation?: number;
  state: 'firing' | 'resolved';
  status?: AlarmEventStatus;
  /** Resolved by a person (status.acknowledgement) rather than by a new generation of the spec. */
  resolvedByPerson?: boolean;
}

/**
 * What intake looks at again when it changes: the spec's generation, and a person's resolve (a status
 * change, which leaves the generation as it is). Read from the object as cached, before it is parsed.
 */
export function intakeVersion(raw: {
  metadata?: { generation?: number };
  spec?: unknown;
  status?: unknown;
}): string {
  const state = (raw.spec as { state?: string } | undefined)?.state;
  const ack = (raw.status as AlarmEventStatus | undefined)?.acknowledgement;
  const byPerson = state !== 'resolved' && ack?.action === 'Resolved';
  return `${raw.metadata?.generation ?? ''}${byPerson ? '/resolved-by-person' : ''}`;
}

export function isFinished(status: AlarmEventStatus | undefined): boolean {
  return status?.phase !== undefined && FINISHED_PHASES.includes(status.phase);
}

/** True when the deliveries record the resolved notification (sent, suppressed or failed). */
export function recordsResolved(status: AlarmEventStatus | undefined): boolean {
  const condition = get({ status: status as { conditions?: never[] } }, RESOLVED_CONDITION);
  return condition?.status === 'True';
}

export function intakeOf({ generation, state, status, resolvedByPerson }: EventView): Intake {
  if (!isFinished(status)) return 'dispatch';
  if (state !== 'resolved' || recordsResolved(status)) return 'finished';
  if (resolvedByPerson) return 'reopen';
  // A status computed from this generation already covers it (an event created resolved, say).
  const observed = status?.observedGeneration;
  return observed !== undefined && generation !== undefined && observed < generation ? 'reopen' : 'finished';
}

/** Records that the deliveries are for the resolved notification. */
export function markResolved(status: AlarmEventStatus, generation: number | undefined, now: Date): void {
  markTrue(
    { metadata: { generation }, status: status as { conditions?: never[] } & Record<string, unknown> },
    RESOLVED_CONDITION,
    REASON,
    'the deliveries record the resolved notification',
    now,
  );
}

/**
 * Re-opens a finished event for its resolved notification: every delivery that carried the firing
 * notification (Delivered) and that `wanted` still plans starts afresh as Pending (no msgUuid, no
 * attempts), finishedAt goes, and the Resolved condition is set. Targets never notified firing keep
 * their entry: there is nothing to resolve for them. Returns how many deliveries were re-opened; with
 * none, the event stays finished.
 */
export function reopenForResolved(
  status: AlarmEventStatus,
  wanted: (id: DeliveryId) => boolean,
  generation: number | undefined,
  now: Date,
): number {
  let reopened = 0;
  status.deliveries = (status.deliveries ?? []).map((d) => {
    if (d.state !== 'Delivered' || !wanted(d)) return d;
    reopened++;
    return freshDelivery(d);
  });
  if (reopened > 0) delete status.finishedAt;
  markResolved(status, generation, now);
  return reopened;
}

function freshDelivery({ ruleNamespace, rule, service, targetKind, targetName }: Delivery): Delivery {
  return { ruleNamespace, rule, service, targetKind, targetName, state: 'Pending' };
}
