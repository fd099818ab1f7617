import type { V1ConfigMap, V1Secret } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { GroupTarget, MemberTarget } from '../api/index.ts';
import { type ReferenceReader, resolveGroup, resolveMemberApp } from './resolve.ts';

const b64 = (text: string) => Buffer.from(text).toString('base64');

function reader(
  secrets: Record<string, Record<string, string>>,
  configMaps: Record<string, Record<string, string>> = {},
): ReferenceReader {
  return {
    secret: (_ns, name) => (secrets[name] ? ({ data: secrets[name] } as V1Secret) : undefined),
    configMap: (_ns, name) => (configMaps[name] ? ({ data: configMaps[name] } as V1ConfigMap) : undefined),
  };
}

const group = GroupTarget.parse({
  name: 'ops',
  webhook: { name: 'robot', key: 'webhook' },
  signature: { name: 'robot', key: 'sign' },
  keywords: ['alarm'],
});

describe('resolveGroup', () => {
  it('reads the webhook and signature secret from the Secret', () => {
    const result = resolveGroup(
      'ns',
      group,
      reader({ robot: { webhook: b64('tok123\n'), sign: b64('SECabc') } }),
    );
    expect(result).toEqual({
      ok: true,
      value: {
        name: 'ops',
        robots: [{ name: 'ops', webhook: 'tok123', secret: 'SECabc', keywords: ['alarm'] }],
        pool: false,
        unresolved: [],
        rateLimitPerMinute: 20,
      },
    });
  });

  it('resolves a pool robot by robot, leaving out those whose Secrets are missing', () => {
    const pool = GroupTarget.parse({
      name: 'ops',
      robots: [
        { name: 'a', webhook: { name: 'robot-a', key: 'webhook' }, keywords: ['alarm'] },
        {
          name: 'b',
          webhook: { name: 'robot-b', key: 'webhook' },
          signature: { name: 'robot-b', key: 'sign' },
        },
      ],
    });
    const result = resolveGroup('ns', pool, reader({ 'robot-a': { webhook: b64('tokA') } }));
    expect(result).toMatchObject({
      ok: true,
      value: {
        pool: true,
        robots: [{ name: 'a', webhook: 'tokA', keywords: ['alarm'] }],
        unresolved: [
          { name: 'b', problem: { reason: 'SecretNotFound', field: 'spec.groups[ops].robots[b].webhook' } },
        ],
      },
    });
    expect(resolveGroup('ns', pool, reader({}))).toMatchObject({
      ok: false,
      problem: { field: 'spec.groups[ops].robots[a].webhook' },
    });
  });

  it('names the missing Secret and the field that references it', () => {
    const result = resolveGroup('ns', group, reader({}));
    expect(result).toEqual({
      ok: false,
      problem: {
        reason: 'SecretNotFound',
        field: 'spec.groups[ops].webhook',
        message: 'Secret "robot" not found (spec.groups[ops].webhook)',
      },
    });
  });

  it('names the missing key without quoting any secret value', () => {
    const result = resolveGroup('ns', group, reader({ robot: { webhook: b64('tok123') } }));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problem.reason).toBe('SecretKeyNotFound');
    expect(result.problem.message).toContain('"sign"');
    expect(result.problem.message).not.toContain('tok123');
  });
});

describe('resolveMemberApp', () => {
  const member = MemberTarget.parse({
    clientId: 'ding1',
    clientSecret: { name: 'app', key: 'secret' },
    members: [{ userId: 'u1' }, { mobile: '+86-13800000001' }],
    membersFrom: { name: 'imported', key: 'members.csv' },
  });

  it('joins inline members with those imported from the ConfigMap', () => {
    const result = resolveMemberApp(
      'ns',
      member,
      reader(
        { app: { secret: b64('s3cret') } },
        { imported: { 'members.csv': 'userId,name,mobile\nu2,Li,\n,Han,13800000002\n' } },
      ),
    );
    expect(result).toEqual({
      ok: true,
      value: {
        clientId: 'ding1',
        clientSecret: 's3cret',
        robotCode: 'ding1',
        members: [
          { userId: 'u1', mobile: undefined, name: undefined },
          { userId: undefined, mobile: '+86-13800000001', name: undefined },
          { userId: 'u2', name: 'Li' },
          { mobile: '13800000002', name: 'Han' },
        ],
      },
    });
  });

  it('reports a missing ConfigMap key by name', () => {
    const result = resolveMemberApp('ns', member, reader({ app: { secret: b64('s') } }, { imported: {} }));
    expect(result.ok || result.problem).toEqual({
      reason: 'ConfigMapKeyNotFound',
      field: 'spec.member.membersFrom',
      message: 'ConfigMap "imported" has no key "members.csv" (spec.member.membersFrom)',
    });
  });

  it('rejects an import without userId or mobile columns', () => {
    const result = resolveMemberApp(
      'ns',
      member,
      reader({ app: { secret: b64('s') } }, { imported: { 'members.csv': 'name\nLi\n' } }),
    );
    expect(result.ok || result.problem.message).toMatch(/needs a userId or a mobile column/);
  });
});
