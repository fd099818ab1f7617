import { describe, expect, it } from 'vitest';
import { type AppCredentials, createTokenCache, type TokenCacheResult } from './token-cache.ts';

const app: AppCredentials = { clientId: 'ding-app', clientSecret: 'shh' };

function setup(lifetimeSeconds = 7200) {
  const clock = { now: 1_000_000 };
  const requests: string[] = [];
  const results: TokenCacheResult[] = [];
  let release: () => void = () => {};
  let gate = Promise.resolve();
  const cache = createTokenCache({
    now: () => clock.now,
    refreshMarginMs: 600_000,
    onResult: ({ result }) => results.push(result),
    async request({ clientId }) {
      await gate;
      requests.push(clientId);
      return { accessToken: `token-${requests.length}`, expiresInSeconds: lifetimeSeconds };
    },
  });
  const hold = () => {
    gate = new Promise((resolve) => {
      release = resolve;
    });
  };
  return { cache, clock, requests, results, hold, release: () => release() };
}

describe('token cache', () => {
  it('shares one request between concurrent callers of the same app', async () => {
    const { cache, requests, results, hold, release } = setup();
    hold();
    const tokens = Promise.all(Array.from({ length: 10 }, () => cache.get(app)));
    release();
    expect(new Set(await tokens)).toEqual(new Set(['token-1']));
    expect(requests).toHaveLength(1);
    expect(results.filter((result) => result === 'miss')).toHaveLength(1);
  });

  it('keeps separate tokens per clientId', async () => {
    const { cache, requests } = setup();
    await cache.get(app);
    await cache.get({ clientId: 'other-app', clientSecret: 'x' });
    expect(requests).toEqual(['ding-app', 'other-app']);
  });

  it('reuses the token until ten minutes before expiry, then refreshes', async () => {
    const { cache, clock, requests } = setup();
    await cache.get(app);
    clock.now += 6_599_000;
    expect(await cache.get(app)).toBe('token-1');
    clock.now += 1_000;
    expect(await cache.get(app)).toBe('token-2');
    expect(requests).toHaveLength(2);
  });

  it('refreshes short-lived tokens at half their lifetime', async () => {
    const { cache, clock } = setup(60);
    await cache.get(app);
    clock.now += 30_000;
    expect(await cache.get(app)).toBe('token-2');
  });

  it('drops an invalidated token but not one refreshed meanwhile', async () => {
    const { cache } = setup();
    const first = await cache.get(app);
    cache.invalidate(app.clientId, first);
    const second = await cache.get(app);
    cache.invalidate(app.clientId, first);
    expect(await cache.get(app)).toBe(second);
    expect(second).not.toBe(first);
  });

  it('reports when the token expires', async () => {
    const { cache, clock } = setup(7200);
    expect(await cache.grant(app)).toEqual({ token: 'token-1', expiresAt: clock.now + 7_200_000 });
  });

  it('asks again when the clientSecret changed, never reusing a token issued for another secret', async () => {
    const { cache, requests } = setup();
    await cache.get(app);
    expect(await cache.get({ ...app, clientSecret: 'rotated' })).toBe('token-2');
    expect(requests).toHaveLength(2);
  });

  it('lets the next caller retry after a failed request', async () => {
    let fail = true;
    const cache = createTokenCache({
      now: () => 0,
      refreshMarginMs: 0,
      async request() {
        if (fail) throw new Error('down');
        return { accessToken: 'ok', expiresInSeconds: 7200 };
      },
    });
    await expect(cache.get(app)).rejects.toThrow('down');
    fail = false;
    expect(await cache.get(app)).toBe('ok');
  });
});
