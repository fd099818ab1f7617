import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Gatekeeper } from './auth.ts';
import { KubeUnavailableError, ReceiverError } from './errors.ts';
import type { AccessReview, AccessReviewResult, TokenReviewResult, UserInfo } from './review.ts';
import { StaticToken } from './static-token.ts';

class CountingReview implements AccessReview {
  tokenReviews = 0;
  accessReviews = 0;
  allowed = true;
  failure: Error | undefined;

  async reviewToken(token: string): Promise<TokenReviewResult> {
    this.tokenReviews++;
    await Promise.resolve();
    if (this.failure) throw this.failure;
    return token === 'good'
      ? { authenticated: true, user: { username: 'sa', groups: ['g'] } }
      : { authenticated: false };
  }

  async reviewCreate(_user: UserInfo, _namespace: string): Promise<AccessReviewResult> {
    this.accessReviews++;
    if (this.failure) throw this.failure;
    return { allowed: this.allowed };
  }
}

function setup(cacheTtlMs = 30_000) {
  const clock = { now: 0 };
  const review = new CountingReview();
  const gatekeeper = new Gatekeeper({ review, cacheTtlMs, cacheSize: 10, now: () => clock.now });
  return { clock, review, gatekeeper };
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
    await gatekeeper.admit('Bearer good', 'ns');
    await gatekeeper.admit('Bearer good', 'ns');
    expect([review.tokenReviews, review.accessReviews]).toEqual([1, 1]);
    await gatekeeper.admit('Bearer good', 'other');
    expect([review.tokenReviews, review.accessReviews]).toEqual([1, 2]);
    clock.now = 30_001;
    await gatekeeper.admit('Bearer good', 'ns');
    expect([review.tokenReviews, review.accessReviews]).toEqual([2, 3]);
  });

  it('shares one review among concurrent requests with the same token', async () => {
    const { review, gatekeeper } = setup();
    await Promise.all(Array.from({ length: 10 }, () => gatekeeper.admit('Bearer good', 'ns')));
    expect([review.tokenReviews, review.accessReviews]).toEqual([1, 1]);
  });

  it('remembers a denial only briefly, so a new RoleBinding takes effect soon', async () => {
    const { clock, review, gatekeeper } = setup();
    review.allowed = false;
    expect(await statusOf(gatekeeper.admit('Bearer good', 'ns'))).toBe(403);
    review.allowed = true;
    expect(await statusOf(gatekeeper.admit('Bearer good', 'ns'))).toBe(403);
    clock.now = 5_001;
    expect(await statusOf(gatekeeper.admit('Bearer good', 'ns'))).toBe('admitted');
  });

  it('never remembers a failed review', async () => {
    const { review, gatekeeper } = setup();
    review.failure = new KubeUnavailableError('down');
    expect(await statusOf(gatekeeper.admit('Bearer good', 'ns'))).toBe('KubeUnavailableError');
    review.failure = undefined;
    expect(await statusOf(gatekeeper.admit('Bearer good', 'ns'))).toBe('admitted');
  });

  it('reviews every request when the cache is off', async () => {
    const { review, gatekeeper } = setup(0);
    await gatekeeper.admit('Bearer good', 'ns');
    await gatekeeper.admit('Bearer good', 'ns');
    expect(review.tokenReviews).toBe(2);
  });

  it('answers 401 to a token the API server does not know', async () => {
    const { gatekeeper } = setup();
    expect(await statusOf(gatekeeper.admit('Bearer bad', 'ns'))).toBe(401);
    expect(await statusOf(gatekeeper.admit('bearer', 'ns'))).toBe(401);
  });
});

describe('static token', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('admits its holder to any namespace without asking the API server, and follows the file', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'static-token-'));
    const file = path.join(dir, 'token');
    writeFileSync(file, 'first-secret\n');
    const clock = { now: 0 };
    const review = new CountingReview();
    const gatekeeper = new Gatekeeper({
      review,
      staticToken: new StaticToken(file, () => clock.now),
      cacheTtlMs: 30_000,
      cacheSize: 10,
    });
    expect(await gatekeeper.admit('Bearer first-secret', 'anywhere')).toEqual({
      username: 'static-token',
      via: 'static-token',
    });
    expect(review.tokenReviews).toBe(0);

    writeFileSync(file, 'second-secret');
    utimesSync(file, new Date(), new Date(Date.now() + 5_000));
    clock.now = 10_000;
    expect(await statusOf(gatekeeper.admit('Bearer first-secret', 'ns'))).toBe(401);
    expect(await statusOf(gatekeeper.admit('Bearer second-secret', 'ns'))).toBe('admitted');
  });

  it('refuses to start from an empty file', () => {
    dir = mkdtempSync(path.join(tmpdir(), 'static-token-'));
    const file = path.join(dir, 'token');
    writeFileSync(file, '\n');
    expect(() => new StaticToken(file)).toThrow(/is empty/);
  });
});
