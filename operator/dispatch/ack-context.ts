import {
  type AlarmEventStatus,
  type Delivery,
  type Interactive,
  parseAlarmRule,
  type ServiceRef,
} from '../api/index.ts';
import type { OperatorContext } from '../manager/context.ts';
import { cacheReader, planTargets } from '../targets/index.ts';

/**
 * What an acknowledgement is judged against, read from the informer caches: the rules of the event's
 * ledger (what they offer, which services they send to) and the names their services' member lists
 * give. Shared by the annotation and the card click, so both judge alike.
 */

export interface RuleView {
  name: string;
  interactive?: Interactive;
  services: ServiceRef[];
}

type Caches = OperatorContext['caches'];

/** The rules of the event's ledger, as cached now (a rule of its own namespace only). */
export function rulesOfEvent(caches: Caches, namespace: string, status: AlarmEventStatus): RuleView[] {
  const names = new Set(
    (status.deliveries ?? []).filter((d) => d.ruleNamespace === namespace).map((d) => d.rule),
  );
  const rules: RuleView[] = [];
  for (const name of names) {
    const raw = caches.rules.get(namespace, name);
    if (!raw) continue;
    try {
      const { spec } = parseAlarmRule(raw);
      rules.push({ name, interactive: spec.interactive, services: spec.services });
    } catch {
      // An invalid rule offers nothing; its status says why.
    }
  }
  return rules;
}

/** Names of the members the rules' services list (inline or membersFrom), by userId. */
export function memberNamesOf(
  caches: Caches,
  namespace: string,
  rules: readonly RuleView[],
): Map<string, string> {
  const names = new Map<string, string>();
  for (const rule of rules) {
    for (const target of planTargets(namespace, rule.services, lookupOf(caches), cacheReader(caches))) {
      if (target.kind === 'Group') continue;
      for (const m of target.app?.members ?? [])
        if (m.userId && m.name && !names.has(m.userId)) names.set(m.userId, m.name);
    }
  }
  return names;
}

export function lookupOf(caches: Caches) {
  return { service: (namespace: string, name: string) => caches.services.get(namespace, name) };
}

/**
 * Where a card's ledger entry was sent, as its rule's target is configured now, with the rule's
 * interactive options: the member set, or the group reached through the app's robot, with who may act
 * on its card (`recipients`: the members it went to, or the group's actors); undefined when the rule or
 * the target is gone.
 */
export function cardTargetOf(
  caches: Caches,
  namespace: string,
  rules: readonly RuleView[],
  delivery: Pick<Delivery, 'rule' | 'service' | 'targetKind' | 'targetName'>,
) {
  const rule = rules.find((r) => r.name === delivery.rule);
  if (!rule) return undefined;
  const target = planTargets(namespace, rule.services, lookupOf(caches), cacheReader(caches)).find(
    (t) =>
      t.kind === delivery.targetKind &&
      t.service === delivery.service &&
      (t.kind === 'Member' ? t.ledgerName : t.name) === delivery.targetName,
  );
  if (!target || target.kind === 'Group' || !target.app) return undefined;
  return target.kind === 'Member'
    ? { app: target.app, recipients: target.recipients, interactive: rule.interactive }
    : { app: target.app, recipients: target.actors, interactive: rule.interactive, group: target.name };
}
