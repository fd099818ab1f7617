import { describe, expect, it } from 'vitest';
import { type DingTalkError, isConfigurationRefusal } from '../../operator/dingtalk/index.ts';
import { useEmulator } from './harness.ts';

const cacheResults: string[] = [];
const t = useEmulator({ onTokenCache: ({ result }) => cacheResults.push(result) });
const app = { clientId: 'dingapp', clientSecret: 'app-secret' };
const users = (count: number) => Array.from({ length: count }, (_, index) => `user${index}`);

async function withOrg(memberCount: number) {
  await t.emulator.control.putApp(app.clientId, { clientSecret: app.clientSecret });
  for (const userId of users(memberCount)) {
    await t.emulator.control.putUser(userId, {
      name: userId,
      mobile: `1380000${userId.slice(4).padStart(4, '0')}`,
    });
  }
}

describe('app access token', () => {
  it('makes one token request for many concurrent callers', async () => {
    await withOrg(0);
    cacheResults.length = 0;
    const tokens = await Promise.all(Array.from({ length: 25 }, () => t.client.getAccessToken(app)));
    expect(new Set(tokens).size).toBe(1);
    expect((await t.emulator.control.stats()).tokenRequests).toEqual({ [app.clientId]: 1 });
    expect(cacheResults.filter((result) => result === 'miss')).toHaveLength(1);
  });

  it('reports wrong app credentials as an auth error', async () => {
    await withOrg(0);
    await expect(
      t.client.getAccessToken({ clientId: 'dingother', clientSecret: 'nope' }),
    ).rejects.toMatchObject({
      errcode: 'invalidClientIdOrSecret',
      errorClass: 'auth',
      httpStatus: 400,
    });
  });

  it('drops a token DingTalk rejects and retries once with a new one', async () => {
    await withOrg(3);
    await t.client.sendToMembers(app, ['user0'], { type: 'text', content: 'first' });
    t.requests.length = 0;
    await t.emulator.control.revokeTokens(app.clientId);
    const result = await t.client.sendToMembers(app, ['user1'], { type: 'text', content: 'second' });
    expect(result.sentUserIds).toEqual(['user1']);
    expect(t.requests).toEqual([
      { endpoint: 'robot.batchSend', resultClass: 'auth' },
      { endpoint: 'oauth2.accessToken', resultClass: 'ok' },
      { endpoint: 'robot.batchSend', resultClass: 'ok' },
    ]);
    await t.emulator.control.revokeTokens(app.clientId);
    expect(await t.client.getUserIdByMobile(app, '13800000002')).toBe('user2');
  });
});

describe('robot batchSend', () => {
  it('sends 45 users in 3 calls of at most 20', async () => {
    await withOrg(45);
    const result = await t.client.sendToMembers(app, users(45), {
      type: 'markdown',
      title: 'Disk',
      text: '**full**',
    });
    expect(result.sentUserIds).toHaveLength(45);
    expect(result.processQueryKeys).toHaveLength(3);
    expect((await t.emulator.control.stats()).batchSendCalls).toEqual({ [app.clientId]: 3 });
    const [received] = await t.emulator.control.messages({ userId: 'user44' });
    expect(received).toMatchObject({ type: 'sampleMarkdown', title: 'Disk', text: '**full**' });
  });

  it('reports unknown users instead of swallowing them', async () => {
    await withOrg(2);
    const result = await t.client.sendToMembers(app, ['user0', 'ghost', 'user1'], {
      type: 'text',
      content: 'hi',
    });
    expect(result).toMatchObject({ sentUserIds: ['user0', 'user1'], invalidUserIds: ['ghost'], failed: [] });
  });

  it('reports flow-controlled users separately', async () => {
    await withOrg(2);
    await t.emulator.control.putApp(app.clientId, {
      clientSecret: app.clientSecret,
      flowControlledUserIds: ['user1'],
    });
    const result = await t.client.sendToMembers(app, users(2), { type: 'text', content: 'hi' });
    expect(result).toMatchObject({ sentUserIds: ['user0'], flowControlledUserIds: ['user1'] });
  });

  it('delivers every action card layout', async () => {
    await withOrg(1);
    const button = (title: string) => ({ title, actionURL: `https://g/${title}` });
    const cards = [[button('a')], [button('a'), button('b')], [button('a'), button('b'), button('c')]];
    for (const buttons of cards) {
      const result = await t.client.sendToMembers(app, ['user0'], {
        type: 'actionCard',
        title: 't',
        text: 'x',
        buttons,
      });
      expect(result.failed).toEqual([]);
    }
    const types = (await t.emulator.control.messages({ userId: 'user0' })).map((message) => message.type);
    expect(types).toEqual(['sampleActionCard', 'sampleActionCard2', 'sampleActionCard3']);
  });

  it('reports a wrong robotCode as a permanent failure of the chunk', async () => {
    await withOrg(1);
    const result = await t.client.sendToMembers({ ...app, robotCode: 'other' }, ['user0'], {
      type: 'text',
      content: 'x',
    });
    expect(result.failed).toMatchObject([
      {
        userIds: ['user0'],
        error: { errcode: 'invalidParameter.robotCode.notExsit', errorClass: 'permanent' },
      },
    ]);
  });
});

describe('user lookup', () => {
  it('finds a userId by mobile and a user by userId', async () => {
    await withOrg(3);
    expect(await t.client.getUserIdByMobile(app, '13800000001')).toBe('user1');
    expect(await t.client.getUser(app, 'user2')).toMatchObject({ userid: 'user2', name: 'user2' });
  });

  it('answers undefined for unknown members', async () => {
    await withOrg(1);
    expect(await t.client.getUserIdByMobile(app, '13999999999')).toBeUndefined();
    expect(await t.client.getUser(app, 'ghost')).toBeUndefined();
  });
});

describe("app robot's group message", () => {
  it('posts to a group the robot is in, and refuses one it is not in as a configuration refusal', async () => {
    await withOrg(1);
    await t.emulator.control.putAppGroup('cidIn==', { robotCodes: [app.clientId], members: ['user0'] });
    const sent = await t.client.sendAppGroupMessage(app, 'cidIn==', {
      type: 'markdown',
      title: 'Disk',
      text: 'full',
    });
    expect(sent.processQueryKey).not.toBe('');
    const [received] = await t.emulator.control.messages({ openConversationId: 'cidIn==' });
    expect(received).toMatchObject({ type: 'sampleMarkdown', title: 'Disk', text: 'full' });
    expect((await t.emulator.control.stats()).groupSendCalls).toEqual({ [app.clientId]: 1 });

    await t.emulator.control.putAppGroup('cidOut==', { robotCodes: [], members: ['user0'] });
    const refused = await t.client
      .sendAppGroupMessage(app, 'cidOut==', { type: 'text', content: 'hi' })
      .catch((error: unknown) => error);
    expect(refused).toMatchObject({ errcode: 'invalid.openConversationId', errorClass: 'permanent' });
    expect(isConfigurationRefusal(refused as DingTalkError)).toBe(true);
  });
});
