import { ALARM_EVENT_PLURAL, GROUP } from '../api/index.ts';
import type { KubeHttp } from './kube-http.ts';

/**
 * The receiver's port to Kubernetes authentication and authorisation: TokenReview and
 * SubjectAccessReview. Both throw KubeUnavailableError when the API server cannot answer; a denial is
 * an answer, not an error.
 */
export interface AccessReview {
  reviewToken(token: string): Promise<TokenReviewResult>;
  /** May `user` create AlarmEvents in `namespace`? */
  reviewCreate(user: UserInfo, namespace: string): Promise<AccessReviewResult>;
}

export interface UserInfo {
  username: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

export type TokenReviewResult = { authenticated: true; user: UserInfo } | { authenticated: false };

export interface AccessReviewResult {
  allowed: boolean;
  /** The authorizer's explanation, when it gave one. */
  reason?: string;
}

interface TokenReviewStatus {
  status?: { authenticated?: boolean; user?: UserInfo };
}

interface SubjectAccessReviewStatus {
  status?: { allowed?: boolean; denied?: boolean; reason?: string };
}

export class KubeAccessReview implements AccessReview {
  readonly #http: KubeHttp;

  constructor(http: KubeHttp) {
    this.#http = http;
  }

  async reviewToken(token: string): Promise<TokenReviewResult> {
    const review = await this.#http.post<TokenReviewStatus>('/apis/authentication.k8s.io/v1/tokenreviews', {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      spec: { token },
    });
    const user = review.status?.user;
    return review.status?.authenticated === true && user?.username
      ? { authenticated: true, user }
      : { authenticated: false };
  }

  async reviewCreate(user: UserInfo, namespace: string): Promise<AccessReviewResult> {
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
          resourceAttributes: { namespace, verb: 'create', group: GROUP, resource: ALARM_EVENT_PLURAL },
        },
      },
    );
    const status = review.status;
    return {
      allowed: status?.allowed === true && status.denied !== true,
      reason: status?.reason || undefined,
    };
  }
}
