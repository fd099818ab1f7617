import type { V1ConfigMap, V1Secret } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { MemberTarget } from '../../api/index.ts';
import { DingTalkError, DingTalkErrorCode } from '../../dingtalk/index.ts';
import type { MemberEntry, ReferenceReader } from '../../targets/index.ts';
import { type MemberDeps, validateMember } from './validate-member.ts';

const b64 = (text: string) => Buffer.from(text).toString('base64');
const member = MemberTarget.parse({
  clientId: 'ding1',
  clientSecret: { name: 'app', key: 'secret' },
  members: [{ userId: 'u1' }, { userId: 'ghost', name: 'Ghost' }],
});
const reader = (secrets: Record<string, Record<string, string>>, configMaps = {}): ReferenceReader => ({
  secret: (_ns, name) => (secrets[name] ? ({ data: secrets[name] } as V1Secret) : undefined),
  configMap: (_ns, name) =>
    (configMaps as Record<string, Record<string, string>>)[name]
      ? ({ data: (configMaps as Record<string, Record<string, string>>)[name] } as V1ConfigMap)
      : undefined,
});
const withSecret = reader({ app: { secret: b64('s3cret') } });

function deps(
  token: () => Promise<{ token: string; expiresAt: number }>,
  resolve: (members: MemberEntry[]) => { userIds: string[]; unknown: MemberEntry[] } = (members) => ({
    userIds: members.filter((m) => m.userId === 'u1').map(() => 'u1'),
    unknown: members.filter((m) => m.userId !== 'u1'),
  }),
  r: ReferenceReader = withSecret,
): MemberDeps {
  return {
    reader: r,
    dingtalk: { getAccessTokenGrant: token },
    members: { resolve: async (_namespace, app) => resolve(app.members) },
  };
}
const issued = async () => ({ token: 't', expiresAt: Date.UTC(2030, 0, 1) });
const refused = (errorClass: 'auth' | 'transient', errcode?: string) => async () => {
  throw new DingTalkError('oauth2.accessToken: refused', {
    code: DingTalkErrorCode.rejected,
    errorClass,
    endpoint: 'oauth2.accessToken',
    ...(errcode && { errcode, errmsg: 'bad client' }),
  });
};

describe('validateMember', () => {
  it('is ready with some members unknown, and reports them', async () => {
    const check = await validateMember('ns', member, deps(issued));
    expect(check).toMatchObject({
      ready: true,
      credentials: { status: 'True' },
      members: { status: 'False', reason: 'MembersUnresolved' },
      resolvedMembers: 1,
      tokenExpiresAt: Date.UTC(2030, 0, 1),
      userIds: ['u1'],
    });
    expect(check.members.message).toContain('Ghost');
  });

  it('calls refused credentials InvalidCredentials with DingTalk code, and does not retry fast', async () => {
    const check = await validateMember('ns', member, deps(refused('auth', 'invalidClientIdOrSecret')));
    expect(check).toMatchObject({
      ready: false,
      reason: 'InvalidCredentials',
      retry: false,
      credentials: { status: 'False', reason: 'InvalidCredentials' },
      members: { status: 'Unknown' },
    });
    expect(check.credentials.message).toContain('invalidClientIdOrSecret');
    expect(check.message).not.toContain('s3cret');
  });

  it('calls a failed connection Unreachable and asks for a retry', async () => {
    const check = await validateMember('ns', member, deps(refused('transient')));
    expect(check).toMatchObject({ ready: false, reason: 'Unreachable', retry: true });
  });

  it('names a missing Secret without asking DingTalk', async () => {
    let asked = false;
    const check = await validateMember(
      'ns',
      member,
      deps(
        async () => {
          asked = true;
          return issued();
        },
        undefined,
        reader({}),
      ),
    );
    expect(check).toMatchObject({ ready: false, reason: 'SecretNotFound', credentials: { status: 'False' } });
    expect(asked).toBe(false);
  });

  it('still checks the credentials when the membersFrom ConfigMap is missing', async () => {
    const importing = MemberTarget.parse({ ...member, membersFrom: { name: 'people', key: 'csv' } });
    const check = await validateMember('ns', importing, deps(issued));
    expect(check).toMatchObject({
      ready: false,
      reason: 'ConfigMapNotFound',
      credentials: { status: 'True' },
      members: { status: 'False', reason: 'ConfigMapNotFound' },
    });
  });

  it('is not ready when no member is known', async () => {
    const check = await validateMember(
      'ns',
      member,
      deps(issued, (members) => ({ userIds: [], unknown: members })),
    );
    expect(check).toMatchObject({
      ready: false,
      reason: 'MembersUnresolved',
      unknownMembers: member.members,
    });
  });
});
