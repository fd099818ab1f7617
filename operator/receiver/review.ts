import { ALARM_EVENT_PLURAL, GROUP } from '../api/index.ts';
import type { KubeHttp } from '../runtime/kube-http.ts';

/**
 * The receiver's port to Kubernetes authentication and authorisation: TokenReview and
 * SubjectAccessReview. Both throw KubeUnavailableError when the API server cannot answer; a denial is
 * an answer, not an error.
 */
export interface AccessReview {
  reviewToken(token: string): Promise<TokenReviewResult>;
  /** May `user` do `verb` on AlarmEvents in `namespace`? */
  reviewAccess(user: UserInfo, namespace: string, verb: AlarmEventVerb): Promise<AccessReviewResult>;
}

/** create: raise an alarm; patch: resolve one that exists. */
export type AlarmEventVerb = 'create' | 'patch';

export interface UserInfo {
  username: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

export type TokenReviewResult =
  | { authenticated: true; user: UserInfo }
  | { authenticated: false; reason?: 'audience' };

export interface AccessReviewResult {
  allowed: boolean;
  /** The authorizer's explanation, when it gave one. */
  reason?: string;
}

interface TokenReviewStatus {
  status?: { authenticated?: boolean; user?: UserInfo; audiences?: string[] };
}

interface SubjectAccessReviewStatus {
  status?: { allowed?: boolean; denied?: boolean; reason?: string };
}

export class KubeAccessReview implements AccessReview {
  readonly #http: KubeHttp;
  readonly #audiences: readonly string[];

  /** `audiences`: the token must have been issued for one of them (the receiver's own, not the API server's). */
  constructor(http: KubeHttp, audiences: readonly string[]) {
    if (audiences.length === 0) throw new Error('the receiver needs at least one token audience');
    this.#http = http;
    this.#audiences = audiences;
  }

  async reviewToken(token: string): Promise<TokenReviewResult> {
    const review = await this.#http.post<TokenReviewStatus>(
      '/apis/authentication.k8s.io/v1/tokenreviews',
      {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenReview',
        spec: { token, audiences: this.#audiences },
      },
      // A review writes nothing, so asking twice is harmless.
      { idempotent: true },
    );
    const status = review.status;
    const user = status?.user;
    if (status?.authenticated !== true || !user?.username) return { authenticated: false };
    // An authenticator that ignores spec.audiences answers with none: the token was then checked against
    // the API server's audience, which would let a token stolen for the API server in. Only an answer
    // naming one of ours counts.
    if (!(status.audiences ?? []).some((audience) => this.#audiences.includes(audience))) {
      return { authenticated: false, reason: 'audience' };
    }
    return { authenticated: true, user };
  }

  async reviewAccess(user: UserInfo, namespace: string, verb: AlarmEventVerb): Promise<AccessReviewResult> {
    const review = await this.#http.post<SubjectAccessReviewStatus>(
      '/apis/authorization.k8s.io/v1/subjectaccessreviews',
      {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: {
          user: user.username,
          uid: user.uid,
          groups: user.groups,
          extra: user.extra,
          resourceAttributes: { namespace, verb, group: GROUP, resource: ALARM_EVENT_PLURAL },
        },
      },
      { idempotent: true },
    );
    const status = review.status;
    return {
      allowed: status?.allowed === true && status.denied !== true,
      reason: status?.reason || undefined,
    };
  }
}
