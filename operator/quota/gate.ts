import { QuotaPolicy, type Severity } from '../api/index.ts';
import type { CustomObject } from '../manager/context.ts';
import type { QuotaBucket, QuotaLedger } from './ledger.ts';
import { groupIntervalFactor, holdingStep, type PolicyStep, stepsInForce } from './policy.ts';

/** A target of a service, as dispatch plans it: a group (by name) or the members, through the app. */
export type QuotaTarget =
  | { service: string; kind: 'Group'; name: string }
  | { service: string; kind: 'Member' };

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

  /** The step that holds back the alarm's notification to the target, if any. */
  holdingStep(
    namespace: string,
    target: QuotaTarget,
    alarm: { severity: Severity; state: 'firing' | 'resolved' },
  ): PolicyStep | undefined {
    const policy = this.#policy(namespace, target.service);
    if (!policy) return undefined;
    return holdingStep(this.#steps(namespace, target, policy), alarm);
  }

  /** How many times longer a rule's groupInterval is: the widest of its targets' policies now. */
  groupIntervalFactor(namespace: string, targets: readonly QuotaTarget[]): number {
    let factor = 1;
    for (const target of targets) {
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
