import { describe, expect, it } from 'vitest';
import { signWebhook } from './signature.ts';
import { resolveWebhook } from './webhook-url.ts';

const vectors = [
  {
    timestamp: 1700000000000,
    secret: 'secret',
    base64: 'OuzzJR5+xZ4/EYwqtNt6sMYZQMTa/HEGvc9miJe7XzY=',
    encoded: 'OuzzJR5%2BxZ4%2FEYwqtNt6sMYZQMTa%2FHEGvc9miJe7XzY%3D',
  },
  {
    timestamp: 1577262236757,
    secret: 'this is secret',
    base64: 'hmPWwU+7lVdm3ZZz0r9tSfx0L4Q26jWOZr9+Gs6EZQM=',
    encoded: 'hmPWwU%2B7lVdm3ZZz0r9tSfx0L4Q26jWOZr9%2BGs6EZQM%3D',
  },
  {
    timestamp: 1700000000000,
    secret: 'SEC0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
    base64: 'bTgY2yDbep+wesS7jKiNj+srsHoADES4+C4f8LCHFtU=',
    encoded: 'bTgY2yDbep%2BwesS7jKiNj%2BsrsHoADES4%2BC4f8LCHFtU%3D',
  },
];

describe('signWebhook', () => {
  it.each(vectors)('matches the documented vector for secret "$secret"', ({ timestamp, secret, base64 }) => {
    expect(signWebhook(secret, timestamp)).toEqual({ timestamp: String(timestamp), sign: base64 });
  });

  it.each(vectors)(
    'puts the sign into the URL encoded exactly once ($secret)',
    ({ timestamp, secret, encoded }) => {
      const webhook = resolveWebhook('abc', { oapiBaseUrl: 'https://oapi.dingtalk.com', allowedHosts: [] });
      const url = webhook.sendUrl({ secret, nowMs: timestamp });
      expect(url.href).toBe(
        `https://oapi.dingtalk.com/robot/send?access_token=abc&timestamp=${timestamp}&sign=${encoded}`,
      );
    },
  );
});
