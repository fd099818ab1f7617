import { createHash } from 'node:crypto';
import { ALARM_EVENT_PLURAL, GROUP } from '../api/index.ts';
import { ReceiverError, ReceiverErrorCode } from './errors.ts';
import type { IssuerKeys } from './issuer-keys.ts';
import { KeyedRateLimiter } from './rate-limit.ts';
import type {
  AccessReview,
  AccessReviewResult,
  AlarmEventVerb,
  TokenReviewResult,
  UserInfo,
} from './review.ts';
import type { StaticToken } from './static-token.ts';
import { TtlCache } from './ttl-cache.ts';

/**
 * Who may post alarms, decided the Kubernetes way: the bearer token is either the static token (for the
 * namespaces it is scoped to) or a token the API server vouches for, issued for the receiver's own
 * audience (TokenReview); such a user must then be allowed to create AlarmEvents in the target namespace,
 * and to patch them when it resolves alarms (SubjectAccessReview).
 *
 * Answers are cached briefly (denials for at most DENIAL_TTL_MS, so a new RoleBinding takes effect soon);
 * failures to get an answer never are. Identical reviews in flight are shared, so a burst of requests
 * with a cold cache costs one review. Cache keys hold a digest of the token, never the token.
 *
 * Callers that are not authenticated must not be able to turn the receiver into a TokenReview pump
 * against the API server: a JWT issued for another audience or already expired is refused without a
 * review, and so is one naming the cluster's issuer that its keys did not sign. Reviews of tokens that
 * are not signed ServiceAccount tokens are budgeted per client address and in total (429 beyond) when
 * they end in a refusal; a token the issuer signed is never held back by that budget, so a flood of
 * made-up tokens cannot lock out callers with real ones.
 */

const DENIAL_TTL_MS = 5_000;
const RESOURCE = `${ALARM_EVENT_PLURAL}.${GROUP}`;

export interface Caller {
  username: string;
  /** How the caller proved who it is. */
  via: 'serviceaccount' | 'static-token';
  /** Who the API server says it is, for further access reviews; none for the static token. */
  user?: UserInfo;
}

export interface GatekeeperOptions {
  review: AccessReview;
  /** Audiences a token must have been issued for (the same list the TokenReview asks about). */
  audiences: readonly string[];
  staticToken?: StaticToken;
  /** The cluster's ServiceAccount token issuer, to refuse forged tokens without a review. */
  issuerKeys?: IssuerKeys;
  /** Namespaces the static token may post to. */
  staticTokenNamespaces?: readonly string[];
  cacheTtlMs: number;
  cacheSize: number;
  /** TokenReviews ending in a refusal allowed per minute, per client address and in total. */
  invalidTokenReviews: { perClient: number; total: number };
  /** Called with `hit` or `miss` for every cache lookup (metrics). */
  onCacheLookup?: (cache: 'token' | 'access', hit: boolean) => void;
  /** Called for every TokenReview the receiver sends (its answer), or declines to send (metrics). */
  onTokenReview?: (outcome: 'authenticated' | 'refused' | 'throttled' | 'forged') => void;
  now?: () => number;
}

export class Gatekeeper {
  readonly #options: GatekeeperOptions;
  readonly #now: () => number;
  readonly #tokens: ReviewCache<TokenReviewResult>;
  readonly #access: ReviewCache<AccessReviewResult>;
  readonly #staticNamespaces: ReadonlySet<string>;
  readonly #perClient: KeyedRateLimiter;
  readonly #total: KeyedRateLimiter;

  constructor(options: GatekeeperOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#tokens = new ReviewCache(options, 'token', (result) => result.authenticated);
    this.#access = new ReviewCache(options, 'access', (result) => result.allowed);
    this.#staticNamespaces = new Set(options.staticTokenNamespaces ?? []);
    const { perClient, total } = options.invalidTokenReviews;
    this.#perClient = new KeyedRateLimiter(
      { perSecond: perClient / 60, burst: perClient },
      { now: this.#now },
    );
    this.#total = new KeyedRateLimiter({ perSecond: total / 60, burst: total }, { now: this.#now });
  }

  /**
   * Resolves with the caller when it may create AlarmEvents in `namespace`; throws ReceiverError 401/403,
   * or 429 when `client` (its address) caused too many TokenReviews for tokens that proved invalid.
   */
  async admit(authorization: string | undefined, namespace: string, client: string): Promise<Caller> {
    const token = bearerToken(authorization);
    const { staticToken } = this.#options;
    if (staticToken?.matches(token)) {
      if (!this.#staticNamespaces.has(namespace)) {
        throw new ReceiverError(
          ReceiverErrorCode.Forbidden,
          403,
          `the static token may post alarms to namespace${this.#staticNamespaces.size === 1 ? '' : 's'} ${[...this.#staticNamespaces].join(', ')} only, not to ${namespace}`,
        );
      }
      return { username: 'static-token', via: 'static-token' };
    }
    this.#precheck(token);
    const verdict = (await this.#options.issuerKeys?.verdict(token)) ?? 'unknown';
    if (verdict === 'forged') {
      this.#options.onTokenReview?.('forged');
      throw new ReceiverError(
        ReceiverErrorCode.Unauthenticated,
        401,
        `the token names this cluster's ServiceAccount issuer, but is not signed by it for this receiver (${this.#audienceList()}) or is outside its validity`,
      );
    }

    const identity = await this.#tokens.get(digest(token), () =>
      verdict === 'signed' ? this.#review(token) : this.#reviewWithinBudget(token, client),
    );
    if (!identity.authenticated) {
      throw new ReceiverError(
        ReceiverErrorCode.Unauthenticated,
        401,
        identity.reason === 'audience'
          ? `the API server authenticated the token, but not for this receiver's audience (${this.#audienceList()}): send a projected ServiceAccount token requested for it`
          : 'the bearer token is not valid: the API server did not authenticate it (expired, revoked, or not a ServiceAccount token of this cluster)',
      );
    }
    const caller: Caller = { username: identity.user.username, via: 'serviceaccount', user: identity.user };
    await this.authorize(caller, namespace, 'create');
    return caller;
  }

  /** Throws ReceiverError 403 unless `caller` may do `verb` on AlarmEvents in `namespace`. */
  async authorize(caller: Caller, namespace: string, verb: AlarmEventVerb): Promise<void> {
    const { user } = caller;
    // The static token was checked against its namespaces in admit(); it may create and resolve there.
    if (!user) return;
    const decision = await this.#access.get(accessKey(user, namespace, verb), () =>
      this.#options.review.reviewAccess(user, namespace, verb),
    );
    if (!decision.allowed) {
      const why = decision.reason ? ` (${decision.reason})` : '';
      const purpose = verb === 'patch' ? ' (needed to resolve alarms)' : '';
      throw new ReceiverError(
        ReceiverErrorCode.Forbidden,
        403,
        `${user.username} may not ${verb} ${RESOURCE} in namespace ${namespace}${purpose}${why}; grant it with a Role and RoleBinding there`,
      );
    }
  }

  /**
   * Refuses, without asking the API server, a JWT that names its audiences and none of ours, or that
   * has expired. Its claims are not verified here: they can only refuse a token, never admit one.
   */
  #precheck(token: string): void {
    const claims = unverifiedClaims(token);
    if (!claims) return;
    const { aud, exp } = claims;
    const audiences = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : undefined;
    if (audiences && !audiences.some((audience) => this.#options.audiences.includes(String(audience)))) {
      throw new ReceiverError(
        ReceiverErrorCode.Unauthenticated,
        401,
        `the token was issued for ${audiences.map((a) => JSON.stringify(String(a).slice(0, 100))).join(', ')}, not for this receiver (${this.#audienceList()}): send a projected ServiceAccount token requested for its audience`,
      );
    }
    if (typeof exp === 'number' && exp * 1000 <= this.#now()) {
      throw new ReceiverError(ReceiverErrorCode.Unauthenticated, 401, 'the token has expired');
    }
  }

  async #reviewWithinBudget(token: string, client: string): Promise<TokenReviewResult> {
    const waitClient = this.#perClient.take(client);
    const waitTotal = waitClient === 0 ? this.#total.take('') : 0;
    if (waitClient > 0 || waitTotal > 0) {
      if (waitTotal > 0) this.#perClient.refund(client);
      this.#options.onTokenReview?.('throttled');
      throw new ReceiverError(
        ReceiverErrorCode.TooManyInvalidTokens,
        429,
        waitClient > 0
          ? 'too many invalid tokens from this address: the receiver checks no more of them for now'
          : 'too many invalid tokens from all callers: the receiver checks no new tokens for now',
        { retryAfter: Math.max(waitClient, waitTotal) },
      );
    }
    const result = await this.#review(token).catch((err: unknown) => {
      // The API server did not answer: the caller is not to blame.
      this.#perClient.refund(client);
      this.#total.refund('');
      throw err;
    });
    if (result.authenticated) {
      this.#perClient.refund(client);
      this.#total.refund('');
    }
    return result;
  }

  async #review(token: string): Promise<TokenReviewResult> {
    const result = await this.#options.review.reviewToken(token);
    this.#options.onTokenReview?.(result.authenticated ? 'authenticated' : 'refused');
    return result;
  }

  #audienceList(): string {
    return this.#options.audiences.map((a) => JSON.stringify(a)).join(', ');
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

/** The payload of a JWT-shaped token, or undefined when the token is not one (it may still be valid). */
function unverifiedClaims(token: string): { aud?: unknown; exp?: unknown } | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts[1]) return undefined;
  try {
    const payload: unknown = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    return payload && typeof payload === 'object' ? (payload as { aud?: unknown; exp?: unknown }) : undefined;
  } catch {
    return undefined;
  }
}

function digest(token: string): string {
  return createHash('sha256').update(token).digest('base64');
}

function accessKey(user: UserInfo, namespace: string, verb: AlarmEventVerb): string {
  return JSON.stringify([
    verb,
    namespace,
    user.username,
    user.uid ?? '',
    [...(user.groups ?? [])].sort(),
    Object.entries(user.extra ?? {}).sort(([a], [b]) => a.localeCompare(b)),
  ]);
}
