import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KubeUnavailableError } from '../errors.ts';
import { Gatekeeper } from './auth.ts';
import { ReceiverError } from './errors.ts';
import { IssuerKeys } from './issuer-keys.ts';
import type {
  AccessReview,
  AccessReviewResult,
  AlarmEventVerb,
  TokenReviewResult,
  UserInfo,
} from './review.ts';
import { StaticToken } from './static-token.ts';

class CountingReview implements AccessReview {
  tokenReviews = 0;
  accessReviews = 0;
  allowed = true;
  /** Verbs allowed; create and patch unless a test says otherwise. */
  verbs = new Set<AlarmEventVerb>(['create', 'patch']);
  failure: Error | undefined;
  /** Tokens the API server authenticates besides "good". */
  authentic = new Set<string>();

  async reviewToken(token: string): Promise<TokenReviewResult> {
    this.tokenReviews++;
    await Promise.resolve();
    if (this.failure) throw this.failure;
    return token === 'good' || this.authentic.has(token)
      ? { authenticated: true, user: { username: 'sa', groups: ['g'] } }
      : { authenticated: false };
  }

  async reviewAccess(_user: UserInfo, _namespace: string, verb: AlarmEventVerb): Promise<AccessReviewResult> {
    this.accessReviews++;
    if (this.failure) throw this.failure;
    return { allowed: this.allowed && this.verbs.has(verb) };
  }
}

const AUDIENCE = 'dingtalk-operator-receiver';
const INVALID_REVIEWS = { perClient: 10, total: 100 };

function setup(cacheTtlMs = 30_000, invalidTokenReviews = INVALID_REVIEWS, issuerKeys?: IssuerKeys) {
  const clock = { now: 0 };
  const review = new CountingReview();
  const gatekeeper = new Gatekeeper({
    review,
    audiences: [AUDIENCE],
    issuerKeys,
    cacheTtlMs,
    cacheSize: 10,
    invalidTokenReviews,
    now: () => clock.now,
  });
  return { clock, review, gatekeeper };
}

/** A JWT-shaped token with these claims (unsigned: only the receiver's precheck reads them). */
function jwt(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'RS256' })}.${part(claims)}.c2lnbmF0dXJl`;
}

async function statusOf(promise: Promise<unknown>): Promise<number | string> {
  try {
    await promise;
    return 'admitted';
  } catch (err) {
    if (err instanceof ReceiverError) return err.statusCode;
    return (err as Error).name;
  }
}

describe('Gatekeeper', () => {
  it('reuses review answers until they expire', async () => {
    const { clock, review, gatekeeper } = setup();
    await gatekeeper.admit('Bearer good', 'ns', '10.0.0.1');
    await gatekeeper.admit('Bearer good', 'ns', '10.0.0.1');
    expect([review.tokenReviews, review.accessReviews]).toEqual([1, 1]);
    await gatekeeper.admit('Bearer good', 'other', '10.0.0.1');
    expect([review.tokenReviews, review.accessReviews]).toEqual([1, 2]);
    clock.now = 30_001;
    await gatekeeper.admit('Bearer good', 'ns', '10.0.0.1');
    expect([review.tokenReviews, review.accessReviews]).toEqual([2, 3]);
  });

  it('shares one review among concurrent requests with the same token', async () => {
    const { review, gatekeeper } = setup();
    await Promise.all(Array.from({ length: 10 }, () => gatekeeper.admit('Bearer good', 'ns', '10.0.0.1')));
    expect([review.tokenReviews, review.accessReviews]).toEqual([1, 1]);
  });

  it('remembers a denial only briefly, so a new RoleBinding takes effect soon', async () => {
    const { clock, review, gatekeeper } = setup();
    review.allowed = false;
    expect(await statusOf(gatekeeper.admit('Bearer good', 'ns', '10.0.0.1'))).toBe(403);
    review.allowed = true;
    expect(await statusOf(gatekeeper.admit('Bearer good', 'ns', '10.0.0.1'))).toBe(403);
    clock.now = 5_001;
    expect(await statusOf(gatekeeper.admit('Bearer good', 'ns', '10.0.0.1'))).toBe('admitted');
  });

  it('never remembers a failed review', async () => {
    const { review, gatekeeper } = setup();
    review.failure = new KubeUnavailableError('down');
    expect(await statusOf(gatekeeper.admit('Bearer good', 'ns', '10.0.0.1'))).toBe('KubeUnavailableError');
    review.failure = undefined;
    expect(await statusOf(gatekeeper.admit('Bearer good', 'ns', '10.0.0.1'))).toBe('admitted');
  });

  it('reviews every request when the cache is off', async () => {
    const { review, gatekeeper } = setup(0);
    await gatekeeper.admit('Bearer good', 'ns', '10.0.0.1');
    await gatekeeper.admit('Bearer good', 'ns', '10.0.0.1');
    expect(review.tokenReviews).toBe(2);
  });

  it('asks whether the caller may patch before it resolves alarms, and caches that per verb', async () => {
    const { review, gatekeeper } = setup();
    review.verbs = new Set(['create']);
    const caller = await gatekeeper.admit('Bearer good', 'ns', '10.0.0.1');
    expect(await statusOf(gatekeeper.authorize(caller, 'ns', 'patch'))).toBe(403);
    review.verbs.add('patch');
    await gatekeeper.admit('Bearer good', 'ns', '10.0.0.1');
    expect(review.accessReviews).toBe(2);
  });

  it('refuses a JWT issued for another audience, or expired, without a review', async () => {
    const { clock, review, gatekeeper } = setup();
    clock.now = 1_000_000;
    const forApiServer = jwt({ aud: ['https://kubernetes.default.svc'], exp: 2_000 });
    const expired = jwt({ aud: [AUDIENCE], exp: 999 });
    await expect(gatekeeper.admit(`Bearer ${forApiServer}`, 'ns', '10.0.0.1')).rejects.toThrow(
      /issued for "https:\/\/kubernetes.default.svc", not for this receiver \("dingtalk-operator-receiver"\)/,
    );
    expect(await statusOf(gatekeeper.admit(`Bearer ${expired}`, 'ns', '10.0.0.1'))).toBe(401);
    expect(review.tokenReviews).toBe(0);
    // Right audience, not expired: only the API server can tell.
    const plausible = jwt({ aud: AUDIENCE, exp: 2_000 });
    expect(await statusOf(gatekeeper.admit(`Bearer ${plausible}`, 'ns', '10.0.0.1'))).toBe(401);
    expect(review.tokenReviews).toBe(1);
  });

  it('reviews at most the budget of invalid tokens per client, then answers 429 with Retry-After', async () => {
    const { clock, review, gatekeeper } = setup(30_000, { perClient: 3, total: 5 });
    const statuses = [];
    for (let i = 0; i < 20; i++)
      statuses.push(await statusOf(gatekeeper.admit(`Bearer bad-${i}`, 'ns', 'a')));
    expect(statuses.filter((s) => s === 401)).toHaveLength(3);
    expect(statuses.filter((s) => s === 429)).toHaveLength(17);
    expect(review.tokenReviews).toBe(3);
    const error = await gatekeeper.admit('Bearer bad-x', 'ns', 'a').catch((err: ReceiverError) => err);
    expect(error).toMatchObject({ statusCode: 429, code: 'RCV_ERR_TOO_MANY_INVALID_TOKENS', retryAfter: 20 });
    // Valid tokens are not counted: a caller with a good token is not throttled by its own use.
    expect(await statusOf(gatekeeper.admit('Bearer good', 'ns', 'c'))).toBe('admitted');
    // Another client has its own budget, until the total runs out.
    expect(await statusOf(gatekeeper.admit('Bearer bad-b1', 'ns', 'b'))).toBe(401);
    expect(await statusOf(gatekeeper.admit('Bearer bad-b2', 'ns', 'b'))).toBe(401);
    expect(await statusOf(gatekeeper.admit('Bearer bad-b3', 'ns', 'b'))).toBe(429);
    expect(review.tokenReviews).toBe(6);
    // A token reviewed before keeps working from the cache.
    expect(await statusOf(gatekeeper.admit('Bearer good', 'ns', 'b'))).toBe('admitted');
    // The budget comes back with time.
    clock.now = 60_000;
    expect(await statusOf(gatekeeper.admit('Bearer bad-later', 'ns', 'a'))).toBe(401);
  });

  it("refuses tokens naming the cluster's issuer that it did not sign without a review, and never holds back one it signed", async () => {
    const issuer = 'https://kubernetes.default.svc';
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const signed = (claims: Record<string, unknown>, key = privateKey) => {
      const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
      const body = `${part({ alg: 'RS256', kid: 'k1' })}.${part({ iss: issuer, aud: [AUDIENCE], exp: 600, ...claims })}`;
      return `${body}.${sign('sha256', Buffer.from(body), key).toString('base64url')}`;
    };
    const clock = { now: 0 };
    const issuerKeys = new IssuerKeys({
      documents: {
        issuer: async () => issuer,
        keys: async () => [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1' }],
      },
      audiences: [AUDIENCE],
      now: () => clock.now,
    });
    const { review, gatekeeper } = setup(5_000, { perClient: 1, total: 2 }, issuerKeys);
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    for (let i = 0; i < 20; i++) {
      expect(
        await statusOf(gatekeeper.admit(`Bearer ${signed({ jti: i }, other)}`, 'ns', `10.0.0.${i}`)),
      ).toBe(401);
    }
    expect(review.tokenReviews).toBe(0);
    // Made-up tokens of no issuer empty the budget of reviews that end in a refusal...
    for (let i = 0; i < 20; i++) await statusOf(gatekeeper.admit(`Bearer random-${i}`, 'ns', `10.0.1.${i}`));
    expect(await statusOf(gatekeeper.admit('Bearer random-x', 'ns', '10.0.2.1'))).toBe(429);
    // ...and a token the issuer signed is still reviewed and admitted.
    const real = signed({ sub: 'system:serviceaccount:ns:alertmanager' });
    review.authentic.add(real);
    expect(await statusOf(gatekeeper.admit(`Bearer ${real}`, 'ns', '10.0.2.1'))).toBe('admitted');
  });

  it('answers 401 to a token the API server does not know', async () => {
    const { gatekeeper } = setup();
    expect(await statusOf(gatekeeper.admit('Bearer bad', 'ns', '10.0.0.1'))).toBe(401);
    expect(await statusOf(gatekeeper.admit('bearer', 'ns', '10.0.0.1'))).toBe(401);
  });
});

describe('static token', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('admits its holder to its namespaces without asking the API server, and follows the file', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'static-token-'));
    const file = path.join(dir, 'token');
    writeFileSync(file, 'first-secret\n');
    const clock = { now: 0 };
    const review = new CountingReview();
    const gatekeeper = new Gatekeeper({
      review,
      audiences: [AUDIENCE],
      staticToken: new StaticToken(file, () => clock.now),
      staticTokenNamespaces: ['ns', 'ops'],
      cacheTtlMs: 30_000,
      cacheSize: 10,
      invalidTokenReviews: INVALID_REVIEWS,
    });
    expect(await gatekeeper.admit('Bearer first-secret', 'ops', '10.0.0.1')).toEqual({
      username: 'static-token',
      via: 'static-token',
    });
    expect(await statusOf(gatekeeper.admit('Bearer first-secret', 'victim', '10.0.0.1'))).toBe(403);
    expect(review.tokenReviews).toBe(0);

    writeFileSync(file, 'second-secret');
    utimesSync(file, new Date(), new Date(Date.now() + 5_000));
    clock.now = 10_000;
    expect(await statusOf(gatekeeper.admit('Bearer first-secret', 'ns', '10.0.0.1'))).toBe(401);
    expect(await statusOf(gatekeeper.admit('Bearer second-secret', 'ns', '10.0.0.1'))).toBe('admitted');
  });

  it('refuses to start from an empty file', () => {
    dir = mkdtempSync(path.join(tmpdir(), 'static-token-'));
    const file = path.join(dir, 'token');
    writeFileSync(file, '\n');
    expect(() => new StaticToken(file)).toThrow(/is empty/);
  });
});
