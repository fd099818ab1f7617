import { afterEach, describe, expect, it, vi } from 'vitest';
import type { DingTalkClient } from '../dingtalk/index.ts';
import { MemberDirectory, normalizeMobile } from './member-directory.ts';

function fakeClient(users: Record<string, string>) {
  const calls: string[] = [];
  const client = {
    getUser: async (_app: unknown, userId: string) => {
      calls.push(`user ${userId}`);
      return Object.values(users).includes(userId) ? { userid: userId } : undefined;
    },
    getUserIdByMobile: async (_app: unknown, mobile: string) => {
      calls.push(`mobile ${mobile}`);
      return users[mobile];
    },
  } as unknown as DingTalkClient;
  return { client, calls };
}

const app = (members: { userId?: string; mobile?: string; name?: string }[]) => ({
  clientId: 'ding1',
  clientSecret: 's',
  robotCode: 'ding1',
  members,
});

describe('MemberDirectory', () => {
  it('resolves mobiles, keeps known userIds once and reports the unknown', async () => {
    const { client } = fakeClient({ '13800000001': 'u1', '13800000002': 'u2' });
    const directory = new MemberDirectory(client);
    const result = await directory.resolve(
      'team-a',
      app([
        { mobile: '+86-13800000001' },
        { userId: 'u1' },
        { userId: 'ghost', name: 'Ghost' },
        { mobile: '13900000000' },
      ]),
    );
    expect(result.userIds).toEqual(['u1']);
    expect(result.unknown).toEqual([{ userId: 'ghost', name: 'Ghost' }, { mobile: '13900000000' }]);
  });

  it('asks DingTalk once per member within the cache lifetime', async () => {
    const { client, calls } = fakeClient({ '13800000001': 'u1' });
    let now = 0;
    const directory = new MemberDirectory(client, { ttlMs: 1000, now: () => now });
    const members = app([{ mobile: '13800000001' }, { userId: 'u1' }]);
    await directory.resolve('team-a', members);
    await directory.resolve('team-a', members);
    expect(calls).toHaveLength(2);
    now = 2000;
    await directory.resolve('team-a', members);
    expect(calls).toHaveLength(4);
  });

  it("never answers one namespace from another's lookups of the same ClientId", async () => {
    const { client, calls } = fakeClient({ '13800000001': 'u1' });
    const directory = new MemberDirectory(client, { ttlMs: 60_000, now: () => 0 });
    const members = app([{ mobile: '13800000001' }]);
    expect((await directory.resolve('team-a', members)).userIds).toEqual(['u1']);
    // Team b names the same app: its own lookup, with its own credentials, answers it.
    await directory.resolve('team-b', { ...members, clientSecret: 'not-team-a-secret' });
    expect(calls).toEqual(['mobile 13800000001', 'mobile 13800000001']);
  });
});

describe('normalizeMobile', () => {
  it('drops the mainland country code and keeps others', () => {
    expect(normalizeMobile('+86-13800000001')).toBe('13800000001');
    expect(normalizeMobile('8613800000001')).toBe('13800000001');
    expect(normalizeMobile('+1-2025550100')).toBe('+1-2025550100');
  });
});

describe('MemberDirectory under concurrency', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('shares a lookup in flight and retries one that failed', async () => {
    vi.useFakeTimers();
    let calls = 0;
    let fail = true;
    const client = {
      getUserIdByMobile: async () => {
        calls++;
        await new Promise((resolve) => setTimeout(resolve, 5));
        if (fail) throw new Error('unreachable');
        return 'u1';
      },
    } as unknown as DingTalkClient;
    const directory = new MemberDirectory(client);
    const members = app([{ mobile: '13800000001' }]);
    const both = Promise.allSettled([
      directory.resolve('team-a', members),
      directory.resolve('team-a', members),
    ]);
    await vi.advanceTimersByTimeAsync(5);
    const attempts = await both;
    expect(attempts.map((a) => a.status)).toEqual(['rejected', 'rejected']);
    expect(calls).toBe(1);
    fail = false;
    const retried = directory.resolve('team-a', members);
    await vi.advanceTimersByTimeAsync(5);
    expect((await retried).userIds).toEqual(['u1']);
    expect(calls).toBe(2);
  });
});
