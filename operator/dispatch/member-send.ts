import type { DingTalkClient, MemberApp, MemberMessage, MemberSendResult } from '../dingtalk/index.ts';

export interface MemberRetryOptions {
  /** Further sends to the members DingTalk skipped (flow control) or could not reach (throttled, transient). */
  retries?: number;
  baseDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * batchSend with retries for just the members that did not get the message for a passing reason, so a
 * retry never messages anyone twice (batchSend has no msgUuid). What still fails after the retries is
 * returned as the client returns it; permanent failures are never retried.
 */
export async function sendToMembersWithRetry(
  client: Pick<DingTalkClient, 'sendToMembers'>,
  app: MemberApp,
  userIds: readonly string[],
  message: MemberMessage,
  { retries = 3, baseDelayMs = 2_000, sleep = defaultSleep }: MemberRetryOptions = {},
): Promise<MemberSendResult> {
  const total: MemberSendResult = {
    processQueryKeys: [],
    sentUserIds: [],
    invalidUserIds: [],
    flowControlledUserIds: [],
    failed: [],
  };
  let pending = userIds;
  for (let attempt = 0; ; attempt++) {
    const result = await client.sendToMembers(app, pending, message);
    total.processQueryKeys.push(...result.processQueryKeys);
    total.sentUserIds.push(...result.sentUserIds);
    total.invalidUserIds.push(...result.invalidUserIds);
    const passing = result.failed.filter(
      (f) => f.error.errorClass === 'throttled' || f.error.errorClass === 'transient',
    );
    total.failed.push(...result.failed.filter((f) => !passing.includes(f)));
    const retryable = [...result.flowControlledUserIds, ...passing.flatMap((f) => f.userIds)];
    if (retryable.length === 0 || attempt >= retries) {
      total.flowControlledUserIds.push(...result.flowControlledUserIds);
      total.failed.push(...passing);
      return total;
    }
    await sleep(baseDelayMs * 2 ** attempt);
    pending = retryable;
  }
}

function defaultSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
