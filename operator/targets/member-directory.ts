import type { DingTalkClient } from '../dingtalk/index.ts';
import { mapConcurrently } from '../runtime/concurrency.ts';
import type { MemberEntry } from './members-csv.ts';
import type { ResolvedMemberApp } from './resolve.ts';

export interface MemberResolution {
  /** Every member DingTalk knows, as userIds, without duplicates. */
  userIds: string[];
  /** Members DingTalk does not know: a mobile with no account, or a userId that does not exist. */
  unknown: MemberEntry[];
}

interface CachedLookup {
  /** Kept as a promise so concurrent callers share one request. */
  userId: Promise<string | undefined>;
  expiresAt: number;
}

/**
 * Resolves an app's members to userIds and finds the unknown ones, remembering answers for `ttlMs`
 * per namespace and app, so the service controller and the dispatcher share lookups instead of each
 * asking DingTalk. The namespace is part of the key: an answer learnt with one tenant's credentials is
 * never given to another tenant naming the same ClientId (with a wrong secret, or none of its own).
 * Transient and auth failures are thrown (the caller retries); "not found" is an answer.
 */
export class MemberDirectory {
  readonly #client: DingTalkClient;
  readonly #ttlMs: number;
  readonly #concurrency: number;
  readonly #now: () => number;
  readonly #cache = new Map<string, CachedLookup>();

  constructor(client: DingTalkClient, { ttlMs = 30 * 60_000, concurrency = 4, now = Date.now } = {}) {
    this.#client = client;
    this.#ttlMs = ttlMs;
    this.#concurrency = concurrency;
    this.#now = now;
  }

  /** `namespace`: the tenant whose service names the app. */
  async resolve(namespace: string, app: ResolvedMemberApp): Promise<MemberResolution> {
    const answers = await mapConcurrently(app.members, this.#concurrency, (member) =>
      this.#lookup(namespace, app, member),
    );
    const userIds = new Set<string>();
    const unknown: MemberEntry[] = [];
    app.members.forEach((member, i) => {
      const userId = answers[i];
      if (userId) userIds.add(userId);
      else unknown.push(member);
    });
    return { userIds: [...userIds], unknown };
  }

  #lookup(namespace: string, app: ResolvedMemberApp, member: MemberEntry): Promise<string | undefined> {
    const key = JSON.stringify([
      namespace,
      app.clientId,
      member.userId ? 'u' : 'm',
      member.userId ?? member.mobile,
    ]);
    const cached = this.#cache.get(key);
    if (cached && cached.expiresAt > this.#now()) return cached.userId;
    const userId = member.userId
      ? this.#client.getUser(app, member.userId).then((user) => (user ? member.userId : undefined))
      : this.#client.getUserIdByMobile(app, normalizeMobile(member.mobile ?? ''));
    this.#cache.set(key, { userId, expiresAt: this.#now() + this.#ttlMs });
    // A failed lookup is not an answer: forget it so the next caller asks again.
    userId.catch(() => {
      if (this.#cache.get(key)?.userId === userId) this.#cache.delete(key);
    });
    return userId;
  }
}

/** DingTalk stores mainland numbers without the country code; other countries keep "+code-number". */
export function normalizeMobile(mobile: string): string {
  const compact = mobile.replace(/\s/g, '');
  const mainland = compact.match(/^\+?86-?(1\d{10})$/);
  return mainland ? (mainland[1] as string) : compact;
}
