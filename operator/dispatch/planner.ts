import type { AlarmEventStatus } from '../api/index.ts';
import type { OperatorContext } from '../manager/context.ts';
import type { CompiledRule, RuleBook } from '../rules/rule-book.ts';
import { windowVerdict } from '../rules/time-windows.ts';
import { cacheReader, type PlannedTarget, planTargets } from '../targets/index.ts';
import type { Alarm } from './alarm.ts';
import type { DeliveryHealth } from './delivery-health.ts';
import {
  diffLedger,
  type LedgerDiff,
  type RuleStanding,
  type WantedDelivery,
  wantedDeliveries,
} from './desired.ts';
import { byRule, upsertDelivery } from './ledger.ts';
import { matchesRule } from './match.ts';

/**
 * What the rules and services of an alarm's namespace, as the caches hold them now, want for it, and
 * how that compares with its ledger (desired.ts). A rule sees the alarms of its own namespace only:
 * other tenants' rules are not even compiled.
 */
export class Planner {
  readonly #caches: OperatorContext['caches'];
  readonly #rules: RuleBook;
  readonly #health: Pick<DeliveryHealth, 'rule' | 'serviceSuppressed'>;

  constructor(
    caches: OperatorContext['caches'],
    rules: RuleBook,
    health: Pick<DeliveryHealth, 'rule' | 'serviceSuppressed'>,
  ) {
    this.#caches = caches;
    this.#rules = rules;
    this.#health = health;
  }

  wanted(alarm: Alarm): WantedDelivery[] {
    const matching: CompiledRule[] = [];
    for (const raw of this.#caches.rules.list(alarm.namespace)) {
      const compiled = this.#rules.compile(raw);
      // An invalid rule (its status says why) takes no new alarms.
      if (!compiled.ok || !compiled.rule.timeZoneValid) continue;
      if (matchesRule(compiled.rule.rule.spec.match, compiled.rule.namespace, alarm))
        matching.push(compiled.rule);
    }
    return wantedDeliveries(matching, (rule) => this.plan(rule));
  }

  diff(status: AlarmEventStatus, alarm: Alarm): LedgerDiff {
    return diffLedger(status, this.wanted(alarm), (ns, name) => this.#standing(alarm, ns, name));
  }

  plan(rule: CompiledRule): PlannedTarget[] {
    return planTargets(
      rule.namespace,
      rule.rule.spec.services,
      { service: (ns, name) => this.#caches.services.get(ns, name) },
      cacheReader(this.#caches),
    );
  }

  /** Records an entry as the rule's verdict has it now; true when it is to be sent (Pending). */
  admit(status: AlarmEventStatus, w: WantedDelivery, now: number): boolean {
    const { rule } = w;
    const fresh = !status.deliveries?.some((d) => byRule(d, rule.namespace, rule.name));
    if (fresh) this.#health.rule(rule.namespace, rule.name, { matched: 1 });
    const verdict = rule.rule.spec.suspend
      ? 'Suspended'
      : windowVerdict(rule.rule.spec.timeWindows, new Date(now));
    if (verdict === 'Send') {
      upsertDelivery(status, w.id, { state: 'Pending' });
      return true;
    }
    upsertDelivery(status, w.id, { state: 'Suppressed', reason: verdict });
    this.#health.serviceSuppressed(rule.namespace, w.target.service);
    if (fresh) this.#health.rule(rule.namespace, rule.name, { suppressed: 1 });
    return false;
  }

  #standing(alarm: Alarm, namespace: string, name: string): RuleStanding {
    const raw = this.#caches.rules.get(namespace, name);
    if (!raw) return 'deleted';
    const compiled = this.#rules.compile(raw);
    if (!compiled.ok || !compiled.rule.timeZoneValid) return 'invalid';
    return matchesRule(compiled.rule.rule.spec.match, namespace, alarm) ? 'matches' : 'unmatched';
  }
}
