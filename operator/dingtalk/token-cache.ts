import { createHash } from 'node:crypto';

/**
 * App access tokens, cached per clientId. DingTalk throttles the token endpoint and returns the same token
 * within its 7200 s validity, so concurrent callers share one request and a token is reused until shortly
 * before it expires. A token is only reused for the clientSecret it was issued for: after the secret is
 * rotated (or mistyped) the next caller asks DingTalk again instead of being handed a token the new
 * secret never earned.
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

/** A token with the time (epoch ms) DingTalk said it expires. */
export interface TokenGrant {
  token: string;
  expiresAt: number;
}

export interface TokenCache {
  get(app: AppCredentials): Promise<string>;
  /** As get, with the token's expiry. */
  grant(app: AppCredentials): Promise<TokenGrant>;
  /** Forgets `token` if it is still the cached one; a token refreshed meanwhile is kept. */
  invalidate(clientId: string, token: string): void;
}

interface Cached {
  accessToken: string;
  expiresAt: number;
  refreshAt: number;
  /** Hash of the clientSecret the token was issued for; the secret itself is not kept here. */
  secretHash: string;
}

const hashSecret = (secret: string) => createHash('sha256').update(secret).digest('hex');

export function createTokenCache(options: TokenCacheOptions): TokenCache {
  const cached = new Map<string, Cached>();
  // Keyed by clientId and secret hash, so a request with a wrong secret is never shared with a right one.
  const inFlight = new Map<string, Promise<TokenGrant>>();

  const refresh = async (app: AppCredentials, secretHash: string): Promise<TokenGrant> => {
    const issued = await options.request(app);
    const lifetimeMs = issued.expiresInSeconds * 1000;
    const margin = Math.min(options.refreshMarginMs, lifetimeMs / 2);
    const issuedAt = options.now();
    const entry = {
      accessToken: issued.accessToken,
      expiresAt: issuedAt + lifetimeMs,
      refreshAt: issuedAt + lifetimeMs - margin,
      secretHash,
    };
    cached.set(app.clientId, entry);
    return { token: entry.accessToken, expiresAt: entry.expiresAt };
  };

  const grant = (app: AppCredentials): Promise<TokenGrant> => {
    const secretHash = hashSecret(app.clientSecret);
    const entry = cached.get(app.clientId);
    if (entry && entry.secretHash === secretHash && options.now() < entry.refreshAt) {
      options.onResult?.({ result: 'hit' });
      return Promise.resolve({ token: entry.accessToken, expiresAt: entry.expiresAt });
    }
    const flightKey = `${app.clientId}\u0000${secretHash}`;
    const pending = inFlight.get(flightKey);
    if (pending) {
      options.onResult?.({ result: 'hit' });
      return pending;
    }
    options.onResult?.({ result: 'miss' });
    const started = refresh(app, secretHash).finally(() => inFlight.delete(flightKey));
    inFlight.set(flightKey, started);
    return started;
  };

  return {
    grant,
    get: async (app) => (await grant(app)).token,
    invalidate(clientId, token) {
      if (cached.get(clientId)?.accessToken === token) cached.delete(clientId);
    },
  };
}
