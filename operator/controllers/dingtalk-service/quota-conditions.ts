import { DingTalkConditionReason, DingTalkConditionType } from '../../api/index.ts';
import type { BucketReport } from '../../quota/ledger.ts';
import { type Conditioned, get, markTrue, remove } from '../../runtime/conditions.ts';

/**
 * QuotaAtRisk and QuotaExhausted from the ledger's month: present (True) while some bucket of the
 * service is at risk or spent, gone when all are within their quota again. A spent bucket is also at
 * risk, so QuotaAtRisk comes first and stays until the month turns or the quota is raised.
 */
export function applyQuotaConditions(obj: Conditioned, reports: readonly BucketReport[]): void {
  const exhausted = reports.filter((r) => r.state === 'Exhausted');
  const atRisk = reports.filter((r) => r.state !== 'Within');
  if (atRisk.length > 0) {
    markTrue(
      obj,
      DingTalkConditionType.QuotaAtRisk,
      DingTalkConditionReason.QuotaAtRisk,
      atRisk.map(describe).join('; '),
    );
  } else remove(obj, DingTalkConditionType.QuotaAtRisk);
  if (exhausted.length > 0) {
    markTrue(
      obj,
      DingTalkConditionType.QuotaExhausted,
      DingTalkConditionReason.QuotaExhausted,
      exhausted.map(describe).join('; '),
    );
  } else remove(obj, DingTalkConditionType.QuotaExhausted);
}

/** The quota conditions that appeared or went since `before`, for events. */
export function quotaTransitions(
  before: Conditioned,
  after: Conditioned,
): { type: string; appeared: boolean; message: string }[] {
  const changes = [];
  for (const type of [DingTalkConditionType.QuotaAtRisk, DingTalkConditionType.QuotaExhausted]) {
    const was = get(before, type);
    const now = get(after, type);
    if (!was && now) changes.push({ type, appeared: true, message: now.message });
    if (was && !now) changes.push({ type, appeared: false, message: `no longer ${type}: ${was.message}` });
  }
  return changes;
}

function describe(report: BucketReport): string {
  const what = report.bucket.kind === 'Robot' ? `group ${report.bucket.group}` : 'app';
  const used = `${report.calls} of ${report.limit} calls in ${report.month}`;
  if (report.exhaustedAt !== undefined)
    return `${what}: DingTalk answered that the month's quota is spent (${used} counted)`;
  if (report.state === 'Exhausted') return `${what}: ${used}, the quota is spent`;
  const at =
    report.projectedExhaustion === undefined ? '' : new Date(report.projectedExhaustion).toISOString();
  return `${what}: ${used}; at this rate the quota runs out at ${at}`;
}
