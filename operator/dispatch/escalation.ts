import {
  type AlarmEventStatus,
  durationToMilliseconds,
  type Escalation,
  type EscalationRecord,
  type EscalationStep,
} from '../api/index.ts';
import { escalationHold } from './acknowledgement.ts';
import { byRule } from './ledger.ts';

/**
 * Where a rule's escalation ladder stands for one alarm, from its status alone: the first notification's
 * recorded time, the steps the escalation ledger has taken, and the acknowledgement. Pure, so a restart
 * or a takeover comes to the same step: none is taken twice (it is on the ledger before it is sent),
 * none is skipped (a step overdue after a long outage is taken late, in order).
 */

export type LadderState =
  /** Take this step now. */
  | { kind: 'due'; step: EscalationStep }
  /** Nothing to do before `at` (the next step's time, or a snooze's end). */
  | { kind: 'wait'; at: number }
  /** Nothing more: every step taken, acknowledged, resolved, or not notified yet (its delivery is awaited). */
  | { kind: 'idle' };

export interface LadderInput {
  ladder: Escalation;
  rule: { namespace: string; name: string };
  status: AlarmEventStatus;
  /** The alarm's state as dispatch sees it (a person's resolve included). */
  state: 'firing' | 'resolved';
  now: number;
}

export function ladderState({ ladder, rule, status, state, now }: LadderInput): LadderState {
  const hold = escalationHold(status.acknowledgement);
  if (state === 'resolved' || hold === 'stopped') return { kind: 'idle' };
  const first = firstNotifiedAt(status, rule);
  if (first === undefined) return { kind: 'idle' };
  const taken = new Set(takenSteps(status, rule).map((r) => r.after));
  const next = [...ladder]
    .sort((a, b) => durationToMilliseconds(a.after) - durationToMilliseconds(b.after))
    .find((step) => !taken.has(step.after));
  if (!next) return { kind: 'idle' };
  const at = Math.max(first + durationToMilliseconds(next.after), hold?.until ?? 0);
  return at <= now ? { kind: 'due', step: next } : { kind: 'wait', at };
}

/** When the rule first notified the alarm anywhere, as the ledger records it. */
export function firstNotifiedAt(
  status: AlarmEventStatus,
  rule: { namespace: string; name: string },
): number | undefined {
  let first: number | undefined;
  for (const d of status.deliveries ?? []) {
    if (d.state !== 'Delivered' || !byRule(d, rule.namespace, rule.name) || !d.deliveredAt) continue;
    const at = Date.parse(d.deliveredAt);
    if (first === undefined || at < first) first = at;
  }
  return first;
}

/** The rule's steps on the escalation ledger. */
export function takenSteps(
  status: AlarmEventStatus,
  rule: { namespace: string; name: string },
): EscalationRecord[] {
  return (status.escalations ?? []).filter((r) => byRule(r, rule.namespace, rule.name));
}

/** Steps on the ledger whose messages may not have gone out: sent again under their msgUuid. */
export function underwaySteps(
  status: AlarmEventStatus,
  rule: { namespace: string; name: string },
): EscalationRecord[] {
  return takenSteps(status, rule).filter((r) => r.state === 'Delivering');
}

/** The ledger with `record` put in (replacing the same rule's entry for the same step). */
export function withRecord(status: AlarmEventStatus, record: EscalationRecord): EscalationRecord[] {
  const others = (status.escalations ?? []).filter(
    (r) => !(byRule(r, record.ruleNamespace, record.rule) && r.after === record.after),
  );
  return [...others, record];
}
