import { DingTalkConditionReason, type GroupTarget } from '../../api/index.ts';
import {
  DingTalkErrorCode,
  isDingTalkError,
  resolveWebhook,
  type WebhookPolicy,
} from '../../dingtalk/index.ts';
import { type ReferenceReader, type ResolvedGroup, resolveGroup } from '../../targets/index.ts';

/**
 * Checks a group robot without sending to it: every message spends one of the robot's 20 a minute,
 * so validation stops at what can be known locally (Secrets present, webhook parsable, host allowed,
 * access_token present, signature secret and keywords well formed). Messages name Secrets and keys,
 * never a value or a part of one.
 */

export interface GroupCheck {
  name: string;
  ready: boolean;
  reason: string;
  message: string;
  /** Present when ready: what a test message is sent with. */
  target?: ResolvedGroup;
}

// DingTalk shows the 加签 secret as SEC followed by hex digits; anything else was copied wrongly.
const SIGNATURE_SECRET = /^SEC[A-Za-z0-9]+$/;

export function validateGroup(
  namespace: string,
  group: GroupTarget,
  reader: ReferenceReader,
  policy: WebhookPolicy,
): GroupCheck {
  const field = `spec.groups[${group.name}]`;
  const notReady = (reason: string, message: string): GroupCheck => ({
    name: group.name,
    ready: false,
    reason,
    message,
  });

  const resolved = resolveGroup(namespace, group, reader);
  if (!resolved.ok) return notReady(resolved.problem.reason, resolved.problem.message);
  const target = resolved.value;

  try {
    resolveWebhook(target.webhook, policy);
  } catch (err) {
    if (!isDingTalkError(err)) throw err;
    const reason =
      err.code === DingTalkErrorCode.hostNotAllowed
        ? DingTalkConditionReason.WebhookHostNotAllowed
        : DingTalkConditionReason.InvalidWebhook;
    return notReady(
      reason,
      `Secret "${group.webhook.name}" key "${group.webhook.key}" (${field}.webhook): ${err.message}`,
    );
  }

  if (target.secret !== undefined && !SIGNATURE_SECRET.test(target.secret)) {
    const ref = group.signature ?? { name: '', key: '' };
    return notReady(
      DingTalkConditionReason.InvalidSignatureSecret,
      `Secret "${ref.name}" key "${ref.key}" (${field}.signature) does not hold a signature secret: it must start with SEC followed by letters and digits`,
    );
  }

  const keywords = target.keywords.map((keyword) => keyword.trim());
  if (keywords.some((keyword) => keyword === '') || new Set(keywords).size !== keywords.length) {
    return notReady(
      DingTalkConditionReason.InvalidKeywords,
      `${field}.keywords has a blank or repeated keyword`,
    );
  }

  return {
    name: group.name,
    ready: true,
    reason: DingTalkConditionReason.Validated,
    // Nothing of the webhook itself (not even its host): status is readable by more people than the Secret.
    message: `robot webhook valid${target.secret ? ', signed' : ''}${keywords.length ? `, ${keywords.length} keyword(s)` : ''}`,
    target,
  };
}
