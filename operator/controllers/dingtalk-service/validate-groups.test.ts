import type { V1Secret } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { GroupTarget } from '../../api/index.ts';
import type { ReferenceReader } from '../../targets/index.ts';
import { validateGroup } from './validate-groups.ts';

const b64 = (text: string) => Buffer.from(text).toString('base64');
const reader = (data: Record<string, string>): ReferenceReader => ({
  secret: (_ns, name) => (name === 'robot' ? ({ data } as V1Secret) : undefined),
  configMap: () => undefined,
});
const policy = { oapiBaseUrl: 'https://oapi.dingtalk.com', allowedHosts: ['oapi.dingtalk.com'] };
const group = (extra: Record<string, unknown> = {}) =>
  GroupTarget.parse({ name: 'ops', webhook: { name: 'robot', key: 'url' }, ...extra });

describe('validateGroup', () => {
  it('accepts a full webhook URL on an allowed host without quoting any part of it', () => {
    const check = validateGroup(
      'ns',
      group({ signature: { name: 'robot', key: 'sec' }, keywords: ['alarm'] }),
      reader({
        url: b64('https://oapi.dingtalk.com/robot/send?access_token=tok-123456789'),
        sec: b64('SECabc123'),
      }),
      policy,
    );
    expect(check).toMatchObject({ ready: true, reason: 'Validated' });
    expect(check.message).toBe('robot webhook valid, signed, 1 keyword(s)');
  });

  it('accepts a bare access_token', () => {
    expect(validateGroup('ns', group(), reader({ url: b64('abc123') }), policy).ready).toBe(true);
  });

  it('names the missing Secret', () => {
    const check = validateGroup(
      'ns',
      group(),
      { secret: () => undefined, configMap: () => undefined },
      policy,
    );
    expect(check).toMatchObject({ ready: false, reason: 'SecretNotFound' });
    expect(check.message).toContain('"robot"');
  });

  it('refuses a host outside the allow-list', () => {
    const check = validateGroup(
      'ns',
      group(),
      reader({ url: b64('http://10.0.0.5/robot/send?access_token=tok-123456789') }),
      policy,
    );
    expect(check).toMatchObject({ ready: false, reason: 'WebhookHostNotAllowed' });
    expect(check.message).not.toContain('tok-123456789');
    expect(check.message).not.toContain('10.0.0.5');
  });

  it('refuses a URL without an access_token', () => {
    const check = validateGroup(
      'ns',
      group(),
      reader({ url: b64('https://oapi.dingtalk.com/robot/send') }),
      policy,
    );
    expect(check).toMatchObject({ ready: false, reason: 'InvalidWebhook' });
  });

  it('refuses a signature secret that does not start with SEC, without quoting it', () => {
    const check = validateGroup(
      'ns',
      group({ signature: { name: 'robot', key: 'sec' } }),
      reader({ url: b64('abc123'), sec: b64('not-a-secret') }),
      policy,
    );
    expect(check).toMatchObject({ ready: false, reason: 'InvalidSignatureSecret' });
    expect(check.message).not.toContain('not-a-secret');
  });

  it('refuses repeated keywords', () => {
    const check = validateGroup(
      'ns',
      group({ keywords: ['alarm', 'alarm'] }),
      reader({ url: b64('abc') }),
      policy,
    );
    expect(check).toMatchObject({ ready: false, reason: 'InvalidKeywords' });
  });
});

describe('validateGroup for a pool of robots', () => {
  const pool = GroupTarget.parse({
    name: 'ops',
    robots: [
      { name: 'a', webhook: { name: 'robot', key: 'a' } },
      { name: 'b', webhook: { name: 'robot', key: 'b' }, signature: { name: 'robot', key: 'b-sign' } },
      { name: 'c', webhook: { name: 'robot', key: 'c' } },
    ],
  });

  it('checks every robot on its own, naming the field of the one that is wrong', () => {
    const check = validateGroup(
      'ns',
      pool,
      reader({
        a: b64('tok-a'),
        b: b64('https://evil.example/robot/send?access_token=x'),
        'b-sign': b64('SEC1'),
      }),
      policy,
    );
    expect(check.ready).toBe(false);
    expect(check.robots?.map((r) => [r.name, r.ready, r.reason])).toEqual([
      ['a', true, 'Validated'],
      ['b', false, 'WebhookHostNotAllowed'],
      ['c', false, 'SecretKeyNotFound'],
    ]);
    expect(check.robots?.[1]?.message).toContain('spec.groups[ops].robots[b].webhook');
    expect(check.message).toContain('robot b:');
    expect(check.message).not.toContain('evil.example/robot/send?access_token');
    // Alarms and tests still go through the robot that is ready.
    expect(check.target?.robots.map((r) => r.name)).toEqual(['a']);
  });

  it('is ready when every robot is', () => {
    const check = validateGroup(
      'ns',
      pool,
      reader({ a: b64('tok-a'), b: b64('tok-b'), 'b-sign': b64('SECabc'), c: b64('tok-c') }),
      policy,
    );
    expect(check).toMatchObject({ ready: true, reason: 'Validated', message: '3 robot(s) valid' });
    expect(check.target?.robots).toHaveLength(3);
  });
});
