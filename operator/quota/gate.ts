import { QuotaPolicy } from '../api/index.ts';
import type { CustomObject } from '../manager/context.ts';
import type { CompiledRule, GroupTiming } from '../rules/rule-book.ts';
import type { QuotaBucket, QuotaLedger } from './ledger.ts';
import { groupIntervalFactor, type PolicyStep, stepsInForce } from './policy.ts';

/** A target of a service, as dispatch plans it: a group (by name), or the members or a group through the app. */
export type QuotaTarget =
  | { service: string; kind: 'Group'; name: string }
  | { service: string; kind: 'Member' | 'AppGroup' };

/**
 * Where dispatch asks a service's quotaPolicy what the month's count allows: which notifications are
 * held back, and how much wider a rule's digests are. Reads the policy from the service as cached and
 * the count from the ledger, so a restart or a takeover applies the same steps.
 */
export class QuotaGate {
  readonly #ledger: QuotaLedger;
  readonly #service: (namespace: string, name: string) => Readonly<CustomObject> | undefined;

  constructor(
    ledger: QuotaLedger,
    service: (namespace: string, name: string) => Readonly<CustomObject> | undefined,
  ) {
    this.#ledger = ledger;
    this.#service = service;
  }

  /**
   * The steps of the service's quotaPolicy in force for the target now; undefined without a policy.
   * Taken once per notification, then applied to each alarm with holdingStep (policy.ts).
   */
  stepsFor(namespace: string, target: QuotaTarget): ReadonlySet<PolicyStep> | undefined {
    const policy = this.#policy(namespace, target.service);
    return policy && this.#steps(namespace, target, policy);
  }

  /** The rule's grouping timers, its groupInterval widened by its targets' policies now. */
  timing(rule: CompiledRule, plan: () => readonly QuotaTarget[]): GroupTiming {
    const services = rule.rule.spec.services.map((service) => service.name);
    const factor = this.groupIntervalFactor(rule.namespace, services, plan);
    return { ...rule.timing, groupIntervalMs: rule.timing.groupIntervalMs * factor };
  }

  /**
   * How many times longer a rule's groupInterval is: the widest of its targets' policies now. The
   * targets are planned only when one of the rule's services has a policy.
   */
  groupIntervalFactor(
    namespace: string,
    services: readonly string[],
    plan: () => readonly QuotaTarget[],
  ): number {
    if (!services.some((service) => this.#policy(namespace, service))) return 1;
    let factor = 1;
    for (const target of plan()) {
      const policy = this.#policy(namespace, target.service);
      if (policy)
        factor = Math.max(factor, groupIntervalFactor(policy, this.#steps(namespace, target, policy)));
    }
    return factor;
  }

  #steps(namespace: string, target: QuotaTarget, policy: QuotaPolicy): Set<PolicyStep> {
    const bucket: QuotaBucket =
      target.kind === 'Group' ? { kind: 'Robot', group: target.name } : { kind: 'App' };
    const report = this.#ledger.report(namespace, target.service, bucket);
    // DingTalk's word that the month is spent counts as the whole limit used.
    return stepsInForce(policy, {
      calls: report.state === 'Exhausted' ? report.limit : report.calls,
      limit: report.limit,
    });
  }

  #policy(namespace: string, service: string): QuotaPolicy | undefined {
    const spec = this.#service(namespace, service)?.spec as { quotaPolicy?: unknown } | undefined;
    if (spec?.quotaPolicy === undefined) return undefined;
    const parsed = QuotaPolicy.safeParse(spec.quotaPolicy);
    return parsed.success ? parsed.data : undefined;
  }
}
