import {
  type DingTalkError,
  DingTalkErrorCode,
  isDingTalkError,
  isQuotaExhaustion,
} from '../dingtalk/index.ts';
import type { QuotaCall, QuotaCounter } from './ledger.ts';

/**
 * Records one DingTalk call in the ledger by how it ended (`error` undefined: DingTalk accepted it).
 * DingTalk counts the calls it handled, refusals included, but not those it throttled; an answer that
 * the quota is spent marks the bucket exhausted. A call whose answer was lost (timeout, garbled
 * answer) may have been counted, so it is counted: the ledger errs towards the limit, not past it.
 * Calls that never left (refused webhook, no connection) and gateway errors are not counted.
 */
export function recordCall(counter: QuotaCounter, call: QuotaCall, error?: unknown): void {
  if (error === undefined) counter.count(call);
  else if (!isDingTalkError(error)) return;
  else if (isQuotaExhaustion(error)) counter.exhausted(call);
  else if (mayHaveBeenCounted(error)) counter.count(call);
}

function mayHaveBeenCounted(error: DingTalkError): boolean {
  switch (error.code) {
    case DingTalkErrorCode.rejected:
      return error.errorClass !== 'throttled';
    case DingTalkErrorCode.timeout:
    case DingTalkErrorCode.badResponse:
    case DingTalkErrorCode.responseTooLarge:
      return true;
    default:
      return false;
  }
}
