import type { QuotaPolicy, Severity } from '../api/index.ts';

/** The steps of a quotaPolicy, in the order they come into force as a month's quota is spent. */
export type PolicyStep = 'WidenDigests' | 'HoldInfo' | 'SkipResolved' | 'CriticalOnly';

/** The steps in force for a bucket that has made `calls` of its `limit` calls this month. */
export function stepsInForce(
  policy: QuotaPolicy | undefined,
  count: { calls: number; limit: number },
): Set<PolicyStep> {
  const steps = new Set<PolicyStep>();
  if (!policy) return steps;
  const usedPercent = (count.calls / count.limit) * 100;
  if (usedPercent >= policy.widenDigestsAt) steps.add('WidenDigests');
  if (usedPercent >= policy.holdInfoAt) steps.add('HoldInfo');
  if (usedPercent >= policy.skipResolvedAt) steps.add('SkipResolved');
  if (count.limit - count.calls <= policy.criticalReserve) steps.add('CriticalOnly');
  return steps;
}

/** The step that keeps an alarm's notification from being sent, if any; critical alarms always go. */
export function holdingStep(
  steps: ReadonlySet<PolicyStep>,
  alarm: { severity: Severity; state: 'firing' | 'resolved' },
): PolicyStep | undefined {
  if (alarm.severity === 'critical') return undefined;
  if (steps.has('CriticalOnly')) return 'CriticalOnly';
  if (alarm.state === 'resolved' && steps.has('SkipResolved')) return 'SkipResolved';
  if (alarm.severity === 'info' && steps.has('HoldInfo')) return 'HoldInfo';
  return undefined;
}

/** How many times longer a rule's groupInterval is: by the policy's factor once digests widen. */
export function groupIntervalFactor(policy: QuotaPolicy | undefined, steps: ReadonlySet<PolicyStep>): number {
  return policy && steps.has('WidenDigests') ? policy.digestIntervalFactor : 1;
}
