import { DingTalkError, DingTalkErrorCode } from './errors.ts';
import { signWebhook } from './signature.ts';

/**
 * A group robot's webhook, given either as the full URL DingTalk shows or as the bare access_token.
 * The access_token is the robot's credential, so nothing here ever puts it into a message.
 */
export interface Webhook {
  /** A fresh URL per call: stale `timestamp`/`sign` from a stored URL are dropped, then re-signed. */
  sendUrl(signing: { secret?: string | undefined; nowMs: number }): URL;
}

export interface WebhookPolicy {
  /** Where a bare access_token is sent; trusted configuration, so its origin is always allowed. */
  oapiBaseUrl: string;
  /** Hosts a full webhook URL may point at: `host` on port 443, `host:port` on that port. */
  allowedHosts: readonly string[];
}

const bareToken = /^[A-Za-z0-9_-]+$/;
const endpoint = 'robot.send';
const ROBOT_SEND_PATH = '/robot/send';

export function resolveWebhook(webhook: string, policy: WebhookPolicy): Webhook {
  const trimmed = webhook.trim();
  if (bareToken.test(trimmed)) return fromParts(new URL('/robot/send', policy.oapiBaseUrl), trimmed);

  const url = parseUrl(trimmed);
  const configured = url.origin === new URL(policy.oapiBaseUrl).origin;
  if (!configured && !isAllowedHost(url, policy)) {
    // The host is part of the Secret's value: not quoted, since errors end up in status.
    throw new DingTalkError("the webhook URL's host is not in the allow-list of webhook hosts", {
      code: DingTalkErrorCode.hostNotAllowed,
      errorClass: 'permanent',
      endpoint,
    });
  }
  // The access_token and the signature travel in the URL: never in clear text, except to the
  // operator's own configured base URL (a proxy or, in tests, the emulator).
  if (!configured && url.protocol !== 'https:') throw invalid('the webhook URL must use https');
  if (url.pathname !== ROBOT_SEND_PATH) throw invalid(`the webhook URL's path must be ${ROBOT_SEND_PATH}`);
  const token = url.searchParams.get('access_token');
  if (!token) throw invalid('the webhook URL has no access_token query parameter');
  if (!bareToken.test(token)) throw invalid("the webhook URL's access_token is not a robot token");
  return fromParts(new URL(url.pathname, url.origin), token);
}

/**
 * The robot a webhook reaches, as its access_token, whichever way the webhook was written (full URL,
 * with or without stale signing parameters, or the bare token): one robot, one rate budget.
 */
export function robotToken(webhook: string): string {
  const trimmed = webhook.trim();
  if (bareToken.test(trimmed) || !URL.canParse(trimmed)) return trimmed;
  return new URL(trimmed).searchParams.get('access_token') ?? trimmed;
}

function fromParts(base: URL, token: string): Webhook {
  return {
    sendUrl({ secret, nowMs }) {
      const url = new URL(base);
      url.searchParams.set('access_token', token);
      if (secret) {
        const { timestamp, sign } = signWebhook(secret, nowMs);
        url.searchParams.set('timestamp', timestamp);
        url.searchParams.set('sign', sign);
      }
      return url;
    },
  };
}

function parseUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalid('the webhook is neither an access_token nor a URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw invalid('the webhook URL must use https');
  return url;
}

/** An https URL on an allow-listed host: on port 443 for a bare host entry, on the entry's own port else. */
function isAllowedHost(url: URL, policy: WebhookPolicy): boolean {
  return policy.allowedHosts.some((entry) => {
    const allowed = entry.toLowerCase();
    return allowed === url.host || (allowed === url.hostname && url.port === '');
  });
}

function invalid(reason: string): DingTalkError {
  return new DingTalkError(reason, {
    code: DingTalkErrorCode.invalidWebhook,
    errorClass: 'permanent',
    endpoint,
  });
}
