import { describe, expect, it } from 'vitest';
import { DingTalkError, type MemberSendResult } from '../dingtalk/index.ts';
import { sendToMembersWithRetry } from './member-send.ts';

const app = { clientId: 'ding1', clientSecret: 's' };
const message = { type: 'text' as const, content: 'disk full' };
const noWait = { sleep: async () => undefined };

function result(partial: Partial<MemberSendResult>): MemberSendResult {
  return {
    processQueryKeys: [],
    sentUserIds: [],
    invalidUserIds: [],
    flowControlledUserIds: [],
    failed: [],
    ...partial,
  };
}

function error(errorClass: 'throttled' | 'transient' | 'permanent') {
  return new DingTalkError('refused', {
    code: 'DINGTALK_ERR_REJECTED',
    errorClass,
    endpoint: 'robot.batchSend',
  });
}

describe('sendToMembersWithRetry', () => {
  it('sends again only to the members skipped for flow control or a passing failure', async () => {
    const calls: string[][] = [];
    const answers = [
      result({
        sentUserIds: ['a'],
        flowControlledUserIds: ['b'],
        failed: [
          { userIds: ['c'], error: error('transient') },
          { userIds: ['d'], error: error('permanent') },
        ],
      }),
      result({ sentUserIds: ['b', 'c'] }),
    ];
    const client = {
      sendToMembers: async (_app: unknown, userIds: readonly string[]) => {
        calls.push([...userIds]);
        return answers.shift() as MemberSendResult;
      },
    };
    const total = await sendToMembersWithRetry(client, app, ['a', 'b', 'c', 'd'], message, noWait);
    expect(calls).toEqual([
      ['a', 'b', 'c', 'd'],
      ['b', 'c'],
    ]);
    expect(total.sentUserIds).toEqual(['a', 'b', 'c']);
    expect(total.failed.map((f) => f.userIds)).toEqual([['d']]);
    expect(total.flowControlledUserIds).toEqual([]);
  });

  it('gives up after the retries and reports who is still flow-controlled', async () => {
    let calls = 0;
    const client = {
      sendToMembers: async () => {
        calls++;
        return result({ flowControlledUserIds: ['b'] });
      },
    };
    const total = await sendToMembersWithRetry(client, app, ['b'], message, { ...noWait, retries: 2 });
    expect(calls).toBe(3);
    expect(total.flowControlledUserIds).toEqual(['b']);
  });
});
