import {
  type AlarmEventPhase,
  type AlarmEventStatus,
  type Delivery,
  DingTalkConditionReason,
  DingTalkConditionType,
} from '../api/index.ts';
import { markFalse, markTrue, markUnknown } from '../runtime/conditions.ts';

/**
 * The AlarmEvent status as delivery ledger: pure functions over one event's status. Entries are keyed
 * by the rule's namespace and name, service, targetKind and targetName; the phase and the Delivered condition follow from them.
 */

export type DeliveryId = Pick<Delivery, 'ruleNamespace' | 'rule' | 'service' | 'targetKind' | 'targetName'>;

export function sameDelivery(a: DeliveryId, b: DeliveryId): boolean {
  return (
    a.ruleNamespace === b.ruleNamespace &&
    a.rule === b.rule &&
    a.service === b.service &&
    a.targetKind === b.targetKind &&
    a.targetName === b.targetName
  );
}

export function findDelivery(status: AlarmEventStatus, id: DeliveryId): Delivery | undefined {
  return status.deliveries?.find((d) => sameDelivery(d, id));
}

/** Adds the entry or lays `change` over the existing one; finished entries are never reopened. */
export function upsertDelivery(status: AlarmEventStatus, id: DeliveryId, change: Partial<Delivery>): void {
  const deliveries = status.deliveries ?? [];
  const existing = deliveries.find((d) => sameDelivery(d, id));
  if (existing) {
    if (isFinal(existing)) return;
    Object.assign(existing, withoutUndefined(change));
  } else {
    deliveries.push({ ...id, state: 'Pending', ...withoutUndefined(change) } as Delivery);
  }
  status.deliveries = deliveries;
}

export function isFinal(delivery: Pick<Delivery, 'state'>): boolean {
  return delivery.state === 'Delivered' || delivery.state === 'Failed' || delivery.state === 'Suppressed';
}

interface PhaseSummary {
  phase: AlarmEventPhase;
  finished: boolean;
}

export function summarize(deliveries: readonly Delivery[]): PhaseSummary {
  if (deliveries.length === 0) return { phase: 'NoMatchingRule', finished: true };
  if (deliveries.some((d) => !isFinal(d))) {
    const moving = deliveries.some((d) => d.state === 'Pending' || d.state === 'Delivering');
    if (!moving) return { phase: 'Held', finished: false };
    const started = deliveries.some(
      (d) => d.state === 'Delivering' || d.state === 'Delivered' || (d.attempts ?? 0) > 0,
    );
    return { phase: started ? 'Delivering' : 'Pending', finished: false };
  }
  const delivered = deliveries.filter((d) => d.state === 'Delivered').length;
  // A member set some of whose members did not get it counts as a failure as well.
  const failed = deliveries.filter((d) => d.state === 'Failed' || (d.members?.failed ?? 0) > 0).length;
  if (delivered > 0) return { phase: failed > 0 ? 'PartiallyDelivered' : 'Delivered', finished: true };
  return { phase: failed > 0 ? 'Failed' : 'Suppressed', finished: true };
}

/** Recomputes phase, finishedAt and the Delivered condition from the deliveries. */
export function settle(status: AlarmEventStatus, generation: number | undefined, now: Date): void {
  const deliveries = status.deliveries ?? [];
  const { phase, finished } = summarize(deliveries);
  status.phase = phase;
  if (generation !== undefined) status.observedGeneration = generation;
  if (finished) status.finishedAt ??= `${now.toISOString().slice(0, 19)}Z`;
  const obj = {
    metadata: { generation },
    status: status as { conditions?: never[] } & Record<string, unknown>,
  };
  const count = (state: Delivery['state']) => deliveries.filter((d) => d.state === state).length;
  const type = DingTalkConditionType.Delivered;
  const R = DingTalkConditionReason;
  switch (phase) {
    case 'Delivered':
      markTrue(obj, type, R.Delivered, `delivered to ${count('Delivered')} target(s)`, now);
      break;
    case 'PartiallyDelivered':
      markFalse(obj, type, R.PartiallyDelivered, failureText(deliveries), now);
      break;
    case 'Failed':
      markFalse(obj, type, R.DeliveryFailed, failureText(deliveries), now);
      break;
    case 'Suppressed': {
      const reasons = [...new Set(deliveries.map((d) => d.reason).filter(Boolean))].join(', ');
      markFalse(obj, type, R.Suppressed, `not sent on purpose: ${reasons}`, now);
      break;
    }
    case 'NoMatchingRule':
      markFalse(obj, type, R.NoMatchingRule, 'no AlarmRule matches this alarm', now);
      break;
    case 'Held':
      markUnknown(obj, type, R.Held, heldText(deliveries), now);
      break;
    default:
      markUnknown(
        obj,
        type,
        'Progressing',
        `${count('Delivered')} of ${deliveries.length} target(s) done`,
        now,
      );
  }
}

function failureText(deliveries: readonly Delivery[]): string {
  return deliveries
    .filter((d) => d.state === 'Failed' || (d.members?.failed ?? 0) > 0)
    .slice(0, 5)
    .map(
      (d) =>
        `${d.targetKind} ${d.targetName} (${d.service}): ${d.reason ?? 'Failed'}${d.errcode ? ` errcode ${d.errcode}` : ''}${d.members ? `, ${d.members.failed} of ${d.members.total} member(s) not reached` : ''}`,
    )
    .join('; ');
}

function heldText(deliveries: readonly Delivery[]): string {
  const held = deliveries
    .filter((d) => d.state === 'Held')
    .slice(0, 5)
    .map(
      (d) =>
        `${d.targetKind} ${d.targetName} (${d.service}): ${d.errcode ? `DingTalk refused it, errcode ${d.errcode}` : (d.reason ?? 'Held')}`,
    );
  return `held until the configuration is fixed: ${held.join('; ')}`;
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export function timestamp(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}

/** True when the entry was made for the rule `namespace/name`. */
export function byRule(
  d: Pick<Delivery, 'ruleNamespace' | 'rule'>,
  namespace: string,
  name: string,
): boolean {
  return d.ruleNamespace === namespace && d.rule === name;
}
