import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type IssuerDocuments, IssuerKeys } from './issuer-keys.ts';

const ISSUER = 'https://kubernetes.default.svc';
const AUDIENCE = 'dingtalk-operator-receiver';
const NOW_S = 1_800_000_000;

interface SigningKey {
  kid: string;
  alg: 'RS256' | 'ES256';
  privateKey: KeyObject;
  jwk: Record<string, unknown>;
}

function signingKey(kid: string, alg: SigningKey['alg'] = 'RS256'): SigningKey {
  const { privateKey, publicKey } =
    alg === 'RS256'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { kid, alg, privateKey, jwk: { ...publicKey.export({ format: 'jwk' }), kid, use: 'sig', alg } };
}

function token(key: SigningKey, claims: Record<string, unknown> = {}): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const signed = `${part({ alg: key.alg, kid: key.kid })}.${part({
    iss: ISSUER,
    aud: [AUDIENCE],
    exp: NOW_S + 600,
    nbf: NOW_S - 10,
    sub: 'system:serviceaccount:team-a:alertmanager',
    ...claims,
  })}`;
  const signature = sign('sha256', Buffer.from(signed), {
    key: key.privateKey,
    ...(key.alg === 'ES256' ? { dsaEncoding: 'ieee-p1363' as const } : {}),
  });
  return `${signed}.${signature.toString('base64url')}`;
}

function setup(published: SigningKey[]) {
  const clock = { now: NOW_S * 1000 };
  const reads = { count: 0, fail: false };
  const documents: IssuerDocuments = {
    issuer: async () => ISSUER,
    keys: async () => {
      reads.count++;
      if (reads.fail) throw new Error('403 Forbidden');
      return published.map((key) => key.jwk);
    },
  };
  const keys = new IssuerKeys({
    documents,
    audiences: [AUDIENCE],
    now: () => clock.now,
    refreshIntervalMs: 60_000,
  });
  return { clock, reads, keys };
}

describe('IssuerKeys', () => {
  it("calls a token the issuer's keys signed for this audience and in its validity signed", async () => {
    const rsa = signingKey('rsa-1');
    const ec = signingKey('ec-1', 'ES256');
    const { keys } = setup([rsa, ec]);
    expect(await keys.verdict(token(rsa))).toBe('signed');
    expect(await keys.verdict(token(ec))).toBe('signed');
  });

  it('calls forged a token naming the issuer that another key signed, or with another audience or an end passed', async () => {
    const published = signingKey('rsa-1');
    const impostor = { ...signingKey('rsa-1'), kid: 'rsa-1' };
    const { keys } = setup([published]);
    expect(await keys.verdict(token(impostor))).toBe('forged');
    expect(await keys.verdict(token(published, { aud: ['kubernetes'] }))).toBe('forged');
    expect(await keys.verdict(token(published, { exp: NOW_S - 1 }))).toBe('forged');
    expect(await keys.verdict(`${token(published).slice(0, -4)}AAAA`)).toBe('forged');
  });

  it('leaves tokens of another issuer, and tokens that are no JWT, to the review', async () => {
    const key = signingKey('rsa-1');
    const { keys } = setup([key]);
    expect(await keys.verdict(token(key, { iss: 'https://accounts.example.org' }))).toBe('unknown');
    expect(await keys.verdict('a-static-or-webhook-token')).toBe('unknown');
  });

  it('reads the keys again for an unseen key id, at most once per interval, so it follows a rotation', async () => {
    const first = signingKey('rsa-1');
    const published = [first];
    const { clock, reads, keys } = setup(published);
    expect(await keys.verdict(token(first))).toBe('signed');
    expect(reads.count).toBe(1);
    clock.now += 61_000;
    const rotated = signingKey('rsa-2');
    published.push(rotated);
    expect(await keys.verdict(token(rotated))).toBe('signed');
    expect(reads.count).toBe(2);
    // Made-up key ids right after cost no read.
    for (let i = 0; i < 50; i++)
      expect(await keys.verdict(token(signingKeyLike(rotated, `kid-${i}`)))).toBe('forged');
    expect(reads.count).toBe(2);
  });

  it('leaves every token to the review while the keys cannot be read, and tries again after the interval', async () => {
    const key = signingKey('rsa-1');
    const { clock, reads, keys } = setup([key]);
    reads.fail = true;
    expect(await keys.verdict(token(key))).toBe('unknown');
    expect(await keys.verdict(token(key))).toBe('unknown');
    expect(reads.count).toBe(1);
    reads.fail = false;
    clock.now += 61_000;
    expect(await keys.verdict(token(key))).toBe('signed');
  });
});

/** The same private key under another key id: a token the issuer never published a key for. */
function signingKeyLike(key: SigningKey, kid: string): SigningKey {
  return { ...key, kid };
}
