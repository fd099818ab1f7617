import { type AlarmEventStatus, type Delivery, DingTalkConditionReason } from '../api/index.ts';
import type { CompiledRule } from '../rules/rule-book.ts';
import { type PlannedTarget, targetNames } from '../targets/index.ts';
import { byRule, type DeliveryId, isFinal } from './ledger.ts';

/**
 * The level-triggered half of dispatch: what the rules and services as they are now want for an alarm,
 * set against what its ledger records. Pure, so intake, a restart and an edit of a rule or service all
 * come to the same answer from the same objects.
 */

/** One delivery the configuration wants now: a matching rule, one of its planned targets, one ledger name. */
export interface WantedDelivery {
  id: DeliveryId;
  rule: CompiledRule;
  target: PlannedTarget;
}

/** Where a rule of the alarm's namespace stands towards the alarm. */
export type RuleStanding = 'matches' | 'unmatched' | 'invalid' | 'deleted';

export interface LedgerDiff {
  /** Wanted, with no entry yet. */
  added: WantedDelivery[];
  /** Wanted, unfinished, not yet given a msgUuid. */
  waiting: WantedDelivery[];
  /** Wanted, unfinished, with a msgUuid: a message that may have gone out and goes again under it. */
  underway: (WantedDelivery & { delivery: Delivery })[];
  /** Unfinished entries the configuration no longer wants, and why. */
  unwanted: { delivery: Delivery; reason: string }[];
}

export function wantedDeliveries(
  rules: readonly CompiledRule[],
  plan: (rule: CompiledRule) => readonly PlannedTarget[],
): WantedDelivery[] {
  const wanted: WantedDelivery[] = [];
  for (const rule of rules) {
    for (const target of plan(rule)) {
      for (const name of targetNames(target)) {
        wanted.push({
          id: {
            ruleNamespace: rule.namespace,
            rule: rule.name,
            service: target.service,
            targetKind: target.kind,
            targetName: name,
          },
          rule,
          target,
        });
      }
    }
  }
  return wanted;
}

/**
 * Sets the wanted deliveries against the ledger. An entry of an invalid rule is left as it is: a broken
 * edit neither sends nor drops anything; the fix decides.
 */
export function diffLedger(
  status: AlarmEventStatus,
  wanted: readonly WantedDelivery[],
  standingOf: (ruleNamespace: string, rule: string) => RuleStanding,
): LedgerDiff {
  const diff: LedgerDiff = { added: [], waiting: [], underway: [], unwanted: [] };
  const entries = new Map((status.deliveries ?? []).map((d) => [deliveryKey(d), d]));
  const wantedKeys = new Set<string>();
  for (const w of wanted) {
    const key = deliveryKey(w.id);
    wantedKeys.add(key);
    const existing = entries.get(key);
    if (!existing) diff.added.push(w);
    else if (isFinal(existing)) continue;
    else if (existing.msgUuid) diff.underway.push({ ...w, delivery: existing });
    else diff.waiting.push(w);
  }
  for (const [key, delivery] of entries) {
    if (isFinal(delivery) || wantedKeys.has(key)) continue;
    const reason = unwantedReason(standingOf(delivery.ruleNamespace, delivery.rule));
    if (reason) diff.unwanted.push({ delivery, reason });
  }
  return diff;
}

function unwantedReason(standing: RuleStanding): string | undefined {
  switch (standing) {
    case 'deleted':
      return DingTalkConditionReason.RuleDeleted;
    case 'unmatched':
      return DingTalkConditionReason.NoLongerMatched;
    case 'matches':
      return DingTalkConditionReason.TargetRemoved;
    case 'invalid':
      return undefined;
  }
}

/** True when the rule already sent the alarm somewhere (or a message of it is underway). */
export function notifiedBy(
  status: AlarmEventStatus,
  rule: Pick<CompiledRule, 'namespace' | 'name'>,
): boolean {
  return (status.deliveries ?? []).some(
    (d) => byRule(d, rule.namespace, rule.name) && (d.state === 'Delivered' || d.msgUuid !== undefined),
  );
}

/** The time the alarm was last notified by the rule (first notification or repeat), from the ledger. */
export function lastNotifiedAt(
  status: AlarmEventStatus,
  rule: Pick<CompiledRule, 'namespace' | 'name'>,
): number {
  let last = 0;
  for (const d of status.deliveries ?? []) {
    if (d.state !== 'Delivered' || !byRule(d, rule.namespace, rule.name)) continue;
    for (const at of [d.deliveredAt, d.repeatedAt]) last = Math.max(last, Date.parse(at ?? '') || 0);
  }
  return last;
}

export function deliveryKey({ ruleNamespace, rule, service, targetKind, targetName }: DeliveryId): string {
  return JSON.stringify([ruleNamespace, rule, service, targetKind, targetName]);
}
