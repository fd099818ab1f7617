import { describe, expect, it } from 'vitest';
import { DingTalkErrorCode } from './errors.ts';
import { resolveWebhook, robotToken } from './webhook-url.ts';

const token = 'f'.repeat(64);
const policy = {
  oapiBaseUrl: 'https://oapi.dingtalk.com',
  allowedHosts: ['oapi.dingtalk.com', 'proxy.internal:8443'],
};
const send = (webhook: string, secret?: string) =>
  resolveWebhook(webhook, policy).sendUrl({ secret, nowMs: 1700000000000 }).href;

describe('resolveWebhook', () => {
  it('sends a bare access_token to the configured oapi base URL', () => {
    expect(send(token)).toBe(`https://oapi.dingtalk.com/robot/send?access_token=${token}`);
  });

  it('accepts the full URL DingTalk shows', () => {
    expect(send(`https://oapi.dingtalk.com/robot/send?access_token=${token}`)).toBe(
      `https://oapi.dingtalk.com/robot/send?access_token=${token}`,
    );
  });

  it('replaces a stale timestamp and sign stored in the URL instead of appending again', () => {
    const stored = `https://oapi.dingtalk.com/robot/send?access_token=${token}&timestamp=1&sign=old`;
    const url = new URL(send(stored, 'SECabc'));
    expect(url.searchParams.getAll('timestamp')).toEqual(['1700000000000']);
    expect(url.searchParams.getAll('sign')).toHaveLength(1);
  });

  it('allows a host:port entry only on that port', () => {
    expect(send(`https://proxy.internal:8443/robot/send?access_token=${token}`)).toContain(
      'proxy.internal:8443',
    );
    expect(() => send(`https://proxy.internal:9999/robot/send?access_token=${token}`)).toThrow(
      expect.objectContaining({ code: DingTalkErrorCode.hostNotAllowed }),
    );
  });

  it('refuses a host outside the allow-list, without quoting the token', () => {
    const attempt = () => send(`http://kubernetes.default.svc/robot/send?access_token=${token}`);
    expect(attempt).toThrow(
      expect.objectContaining({ code: DingTalkErrorCode.hostNotAllowed, errorClass: 'permanent' }),
    );
    expect(attempt).not.toThrow(token);
  });

  it('refuses a URL without access_token and text that is neither URL nor token', () => {
    expect(() => send('https://oapi.dingtalk.com/robot/send')).toThrow(/no access_token/);
    expect(() => send('not a token')).toThrow(
      expect.objectContaining({ code: DingTalkErrorCode.invalidWebhook }),
    );
  });

  it('refuses clear-text http, except to the configured base URL', () => {
    expect(() => send(`http://oapi.dingtalk.com/robot/send?access_token=${token}`)).toThrow(
      expect.objectContaining({
        code: DingTalkErrorCode.invalidWebhook,
        message: 'the webhook URL must use https',
      }),
    );
    const local = { oapiBaseUrl: 'http://127.0.0.1:8080', allowedHosts: ['127.0.0.1'] };
    const sendUrl = (webhook: string) => resolveWebhook(webhook, local).sendUrl({ nowMs: 0 }).href;
    expect(sendUrl(`http://127.0.0.1:8080/robot/send?access_token=${token}`)).toBe(
      `http://127.0.0.1:8080/robot/send?access_token=${token}`,
    );
    expect(() => sendUrl(`http://127.0.0.1:9090/robot/send?access_token=${token}`)).toThrow(
      expect.objectContaining({ code: DingTalkErrorCode.hostNotAllowed }),
    );
  });

  it('accepts a bare allow-listed host on port 443 only', () => {
    expect(send(`https://oapi.dingtalk.com:443/robot/send?access_token=${token}`)).toContain(
      'oapi.dingtalk.com',
    );
    expect(() => send(`https://oapi.dingtalk.com:8443/robot/send?access_token=${token}`)).toThrow(
      expect.objectContaining({ code: DingTalkErrorCode.hostNotAllowed }),
    );
  });

  it.each([
    ['another path', '/robot/other'],
    ['a path that does not decode', '/robot%FF/send'],
    ['an encoded path', '/robot%2Fsend'],
  ])('refuses %s with a clear error instead of throwing elsewhere', (_name, path) => {
    expect(() => send(`https://oapi.dingtalk.com${path}?access_token=${token}`)).toThrow(
      expect.objectContaining({
        code: DingTalkErrorCode.invalidWebhook,
        message: "the webhook URL's path must be /robot/send",
      }),
    );
  });

  it('refuses an access_token that is not shaped like one, without quoting it', () => {
    const attempt = () => send('https://oapi.dingtalk.com/robot/send?access_token=%FF%FEsecret');
    expect(attempt).toThrow(expect.objectContaining({ code: DingTalkErrorCode.invalidWebhook }));
    expect(attempt).not.toThrow(/secret/);
  });
});

describe('robotToken', () => {
  it('names the same robot however its webhook is written', () => {
    const token = 'a'.repeat(64);
    expect(robotToken(token)).toBe(token);
    expect(robotToken(` https://oapi.dingtalk.com/robot/send?access_token=${token}\n`)).toBe(token);
    expect(robotToken(`https://oapi.dingtalk.com/robot/send?timestamp=1&sign=x&access_token=${token}`)).toBe(
      token,
    );
  });
});
