import { createHash } from 'node:crypto';
import { ALARM_EVENT_PLURAL, GROUP } from '../api/index.ts';
import { ReceiverError, ReceiverErrorCode } from './errors.ts';
import type { AccessReview, AccessReviewResult, TokenReviewResult, UserInfo } from './review.ts';
import type { StaticToken } from './static-token.ts';
import { TtlCache } from './ttl-cache.ts';

/**
 * Who may post alarms, decided the Kubernetes way: the bearer token is either the static token or a
 * token the API server vouches for (TokenReview); such a user must then be allowed to create
 * AlarmEvents in the target namespace (SubjectAccessReview).
 *
 * Answers are cached briefly (denials for at most DENIAL_TTL_MS, so a new RoleBinding takes effect soon);
 * failures to get an answer never are. Identical reviews in flight are shared, so a burst of requests
 * with a cold cache costs one review. Cache keys hold a digest of the token, never the token.
 */

const DENIAL_TTL_MS = 5_000;
const RESOURCE = `${ALARM_EVENT_PLURAL}.${GROUP}`;

export interface Caller {
  username: string;
  /** How the caller proved who it is. */
  via: 'serviceaccount' | 'static-token';
}

export interface GatekeeperOptions {
  review: AccessReview;
  staticToken?: StaticToken;
  cacheTtlMs: number;
  cacheSize: number;
  /** Called with `hit` or `miss` for every cache lookup (metrics). */
  onCacheLookup?: (cache: 'token' | 'access', hit: boolean) => void;
  now?: () => number;
}

export class Gatekeeper {
  readonly #options: GatekeeperOptions;
  readonly #tokens: ReviewCache<TokenReviewResult>;
  readonly #access: ReviewCache<AccessReviewResult>;

  constructor(options: GatekeeperOptions) {
    this.#options = options;
    this.#tokens = new ReviewCache(options, 'token', (result) => result.authenticated);
    this.#access = new ReviewCache(options, 'access', (result) => result.allowed);
  }

  /** Resolves with the caller when it may post alarms to `namespace`; throws ReceiverError 401/403. */
  async admit(authorization: string | undefined, namespace: string): Promise<Caller> {
    const token = bearerToken(authorization);
    if (this.#options.staticToken?.matches(token)) return { username: 'static-token', via: 'static-token' };

    const { review } = this.#options;
    const identity = await this.#tokens.get(digest(token), () => review.reviewToken(token));
    if (!identity.authenticated) {
      throw new ReceiverError(
        ReceiverErrorCode.Unauthenticated,
        401,
        'the bearer token is not valid: the API server did not authenticate it (expired, revoked, or not a ServiceAccount token of this cluster)',
      );
    }
    const { user } = identity;
    const decision = await this.#access.get(accessKey(user, namespace), () =>
      review.reviewCreate(user, namespace),
    );
    if (!decision.allowed) {
      const why = decision.reason ? ` (${decision.reason})` : '';
      throw new ReceiverError(
        ReceiverErrorCode.Forbidden,
        403,
        `${user.username} may not create ${RESOURCE} in namespace ${namespace}${why}; grant it with a Role and RoleBinding there`,
      );
    }
    return { username: user.username, via: 'serviceaccount' };
  }
}

class ReviewCache<T> {
  readonly #cache: TtlCache<T>;
  readonly #inFlight = new Map<string, Promise<T>>();
  readonly #options: GatekeeperOptions;
  readonly #name: 'token' | 'access';
  readonly #granted: (result: T) => boolean;

  constructor(options: GatekeeperOptions, name: 'token' | 'access', granted: (result: T) => boolean) {
    this.#cache = new TtlCache(options.cacheSize, options.now);
    this.#options = options;
    this.#name = name;
    this.#granted = granted;
  }

  async get(key: string, review: () => Promise<T>): Promise<T> {
    const cached = this.#cache.get(key);
    this.#options.onCacheLookup?.(this.#name, cached !== undefined);
    if (cached !== undefined) return cached;
    const pending = this.#inFlight.get(key);
    if (pending) return pending;
    const fresh = review().then((result) => {
      const { cacheTtlMs } = this.#options;
      this.#cache.set(key, result, this.#granted(result) ? cacheTtlMs : Math.min(cacheTtlMs, DENIAL_TTL_MS));
      return result;
    });
    this.#inFlight.set(key, fresh);
    try {
      return await fresh;
    } finally {
      this.#inFlight.delete(key);
    }
  }
}

function bearerToken(authorization: string | undefined): string {
  if (!authorization) {
    throw new ReceiverError(
      ReceiverErrorCode.Unauthenticated,
      401,
      'no bearer token: send "Authorization: Bearer <token>" with a ServiceAccount token (or the static token)',
    );
  }
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
  if (!match?.[1]) {
    throw new ReceiverError(
      ReceiverErrorCode.Unauthenticated,
      401,
      'the Authorization header is not of the form "Bearer <token>"',
    );
  }
  return match[1];
}

function digest(token: string): string {
  return createHash('sha256').update(token).digest('base64');
}

function accessKey(user: UserInfo, namespace: string): string {
  return JSON.stringify([
    namespace,
    user.username,
    user.uid ?? '',
    [...(user.groups ?? [])].sort(),
    Object.entries(user.extra ?? {}).sort(([a], [b]) => a.localeCompare(b)),
  ]);
}
