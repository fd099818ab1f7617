import { describe, expect, it } from 'vitest';
import type { KubeHttp } from '../runtime/kube-http.ts';
import { KubeAccessReview } from './review.ts';

/** A KubeHttp that records what was posted and answers `status`. */
function answering(status: unknown) {
  const posted: unknown[] = [];
  const http = {
    post: async (_path: string, body: unknown) => {
      posted.push(body);
      return { status };
    },
  } as unknown as KubeHttp;
  return { http, posted };
}

const USER = { username: 'system:serviceaccount:team-a:alertmanager' };

describe('KubeAccessReview', () => {
  it("asks the TokenReview about the receiver's audiences and accepts an answer naming one", async () => {
    const { http, posted } = answering({ authenticated: true, user: USER, audiences: ['receiver'] });
    const review = new KubeAccessReview(http, ['receiver']);
    expect(await review.reviewToken('t')).toEqual({ authenticated: true, user: USER });
    expect(posted[0]).toMatchObject({ spec: { token: 't', audiences: ['receiver'] } });
  });

  it('refuses an authenticated answer that names none of its audiences (an audience-unaware authenticator)', async () => {
    for (const audiences of [undefined, [], ['https://kubernetes.default.svc']]) {
      const { http } = answering({ authenticated: true, user: USER, audiences });
      expect(await new KubeAccessReview(http, ['receiver']).reviewToken('t')).toEqual({
        authenticated: false,
        reason: 'audience',
      });
    }
  });

  it('asks about the verb it is given', async () => {
    const { http, posted } = answering({ allowed: true });
    expect(await new KubeAccessReview(http, ['receiver']).reviewAccess(USER, 'team-a', 'patch')).toEqual({
      allowed: true,
      reason: undefined,
    });
    expect(posted[0]).toMatchObject({
      spec: { resourceAttributes: { namespace: 'team-a', verb: 'patch', resource: 'alarmevents' } },
    });
  });
});
