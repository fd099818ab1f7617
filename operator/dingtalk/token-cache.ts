/**
 * App access tokens, cached per clientId. DingTalk throttles the token endpoint and returns the same token
 * within its 7200 s validity, so concurrent callers share one request and a token is reused until shortly
 * before it expires.
 */

export interface AppCredentials {
  clientId: string;
  clientSecret: string;
}

export interface IssuedToken {
  accessToken: string;
  expiresInSeconds: number;
}

/** `miss` means this call started a token request; joining one already in flight counts as a `hit`. */
export type TokenCacheResult = 'hit' | 'miss';

export interface TokenCacheOptions {
  request(app: AppCredentials): Promise<IssuedToken>;
  now(): number;
  /** Refresh this long before expiry (capped at half the token's lifetime). */
  refreshMarginMs: number;
  onResult?: ((event: { result: TokenCacheResult }) => void) | undefined;
}

export interface TokenCache {
  get(app: AppCredentials): Promise<string>;
  /** Forgets `token` if it is still the cached one; a token refreshed meanwhile is kept. */
  invalidate(clientId: string, token: string): void;
}

interface Cached {
  accessToken: string;
  refreshAt: number;
}

export function createTokenCache(options: TokenCacheOptions): TokenCache {
  const cached = new Map<string, Cached>();
  const inFlight = new Map<string, Promise<string>>();

  const refresh = async (app: AppCredentials) => {
    const issued = await options.request(app);
    const lifetimeMs = issued.expiresInSeconds * 1000;
    const margin = Math.min(options.refreshMarginMs, lifetimeMs / 2);
    cached.set(app.clientId, {
      accessToken: issued.accessToken,
      refreshAt: options.now() + lifetimeMs - margin,
    });
    return issued.accessToken;
  };

  return {
    get(app) {
      const entry = cached.get(app.clientId);
      if (entry && options.now() < entry.refreshAt) {
        options.onResult?.({ result: 'hit' });
        return Promise.resolve(entry.accessToken);
      }
      const pending = inFlight.get(app.clientId);
      if (pending) {
        options.onResult?.({ result: 'hit' });
        return pending;
      }
      options.onResult?.({ result: 'miss' });
      const started = refresh(app).finally(() => inFlight.delete(app.clientId));
      inFlight.set(app.clientId, started);
      return started;
    },
    invalidate(clientId, token) {
      if (cached.get(clientId)?.accessToken === token) cached.delete(clientId);
    },
  };
}
