import { createHmac } from 'node:crypto';

/**
 * 加签 for custom group robots (dingtalk-api.md §1.3): HMAC-SHA256 keyed by the whole `SEC…` secret over
 * `timestamp + "\n" + secret`, standard Base64. The result is raw Base64: URLSearchParams encodes it once.
 * Sign every request; a reused timestamp expires after an hour.
 */
export function signWebhook(secret: string, nowMs: number): { timestamp: string; sign: string } {
  const timestamp = String(nowMs);
  const sign = createHmac('sha256', secret).update(`${timestamp}\n${secret}`, 'utf8').digest('base64');
  return { timestamp, sign };
}
