import { describe, expect, it } from 'vitest';
import { DingTalkErrorCode, type GroupMessage } from '../../operator/dingtalk/index.ts';
import { secret, token, useEmulator } from './harness.ts';

const t = useEmulator();
const webhook = () => `${t.emulator.url}/robot/send?access_token=${token}`;

describe('group robot webhook: message types', () => {
  const messages: GroupMessage[] = [
    { type: 'text', content: 'disk full on node-1' },
    { type: 'markdown', title: 'Disk', text: '### Disk full\n> node-1' },
    {
      type: 'actionCard',
      title: 'Disk',
      text: '**full**',
      buttons: [{ title: 'Open', actionURL: 'https://g/d' }],
    },
    {
      type: 'actionCard',
      title: 'Disk',
      text: '**full**',
      buttons: [
        { title: 'Ack', actionURL: 'https://g/ack' },
        { title: 'Silence', actionURL: 'https://g/silence' },
      ],
    },
    {
      type: 'link',
      title: 'Disk',
      text: 'node-1 disk full',
      messageUrl: 'https://g/d',
      picUrl: 'https://g/p.png',
    },
    {
      type: 'feedCard',
      links: [{ title: 'Disk full', messageURL: 'https://g/d', picURL: 'https://g/p.png' }],
    },
  ];

  it.each(
    messages.map((message) => [
      `${message.type}${'buttons' in message ? ` (${message.buttons.length} buttons)` : ''}`,
      message,
    ]),
  )('delivers %s', async (_name, message) => {
    await t.emulator.control.putRobot(token, { name: 'ops' });
    const { msgUuid } = await t.client.sendGroupMessage({ webhook: webhook() }, message);
    const [received] = await t.emulator.control.messages({ robot: token });
    expect(received).toMatchObject({ type: message.type, msgUuid, to: { kind: 'group', name: 'ops' } });
  });

  it('accepts the bare access_token instead of the URL', async () => {
    await t.emulator.control.putRobot(token);
    await t.client.sendGroupMessage({ webhook: token }, { type: 'text', content: 'hi' });
    expect(await t.emulator.control.messages({ robot: token })).toHaveLength(1);
  });

  it('@-mentions so that DingTalk notifies the members', async () => {
    await t.emulator.control.putRobot(token);
    const mentions = { mobiles: ['13800000000'], userIds: ['zhangsan'] };
    await t.client.sendGroupMessage(
      { webhook: token },
      { type: 'markdown', title: 'Disk', text: 'full', mentions },
    );
    const [received] = await t.emulator.control.messages({ robot: token });
    expect(received?.mentions?.notified).toEqual(['13800000000', 'zhangsan']);
  });
});

describe('group robot webhook: security settings', () => {
  it('signs when the robot has 加签 enabled', async () => {
    await t.emulator.control.putRobot(token, { secret });
    await t.client.sendGroupMessage({ webhook: webhook(), secret }, { type: 'text', content: 'signed' });
    expect(await t.emulator.control.messages({ robot: token })).toHaveLength(1);
  });

  it('reports a missing signature as a permanent 310000', async () => {
    await t.emulator.control.putRobot(token, { secret });
    await expect(
      t.client.sendGroupMessage({ webhook: webhook() }, { type: 'text', content: 'x' }),
    ).rejects.toMatchObject({
      errcode: 310000,
      errmsg: 'sign not match',
      errorClass: 'permanent',
    });
  });

  it('reports a wrong secret as a permanent 310000 and keeps the secret out of the error', async () => {
    await t.emulator.control.putRobot(token, { secret });
    const wrong = `${secret}x`;
    const sending = t.client.sendGroupMessage(
      { webhook: webhook(), secret: wrong },
      { type: 'text', content: 'x' },
    );
    const error = await sending.then(
      () => expect.unreachable('the send should fail'),
      (caught: Error) => caught,
    );
    expect(error).toMatchObject({ errcode: 310000, errorClass: 'permanent' });
    expect(JSON.stringify({ ...error, message: error.message })).not.toContain(wrong);
    expect(error.message).not.toContain(token);
  });

  it('reports a signature older than an hour as invalid timestamp', async () => {
    await t.emulator.control.putRobot(token, { secret });
    await t.emulator.control.advanceClock(2 * 3_600_000);
    await expect(
      t.client.sendGroupMessage({ webhook: webhook(), secret }, { type: 'text', content: 'x' }),
    ).rejects.toMatchObject({ errcode: 310000, errmsg: 'invalid timestamp' });
  });

  it('adds a keyword so the robot accepts the message', async () => {
    await t.emulator.control.putRobot(token, { keywords: ['告警'] });
    await t.client.sendGroupMessage(
      { webhook: token, keywords: ['告警'] },
      { type: 'text', content: 'disk full' },
    );
    const [received] = await t.emulator.control.messages({ robot: token });
    expect(received?.text).toContain('告警');
  });

  it('surfaces the keyword rejection when the caller does not know the keywords', async () => {
    await t.emulator.control.putRobot(token, { keywords: ['告警'] });
    await expect(
      t.client.sendGroupMessage({ webhook: token }, { type: 'text', content: 'disk' }),
    ).rejects.toMatchObject({
      errcode: 310000,
      errmsg: 'keywords not in content',
      errorClass: 'permanent',
    });
  });

  it('reports a source outside the IP allow-list as permanent', async () => {
    await t.emulator.control.putRobot(token, { ipAllowList: ['10.0.0.0/8'] });
    await expect(
      t.client.sendGroupMessage({ webhook: token }, { type: 'text', content: 'x' }),
    ).rejects.toMatchObject({
      errcode: 310000,
      errorClass: 'permanent',
    });
    await t.emulator.control.putRobot(token, { ipAllowList: ['127.0.0.0/8'] });
    await t.client.sendGroupMessage({ webhook: token }, { type: 'text', content: 'x' });
  });

  it('reports an unknown access_token as permanent', async () => {
    await expect(
      t.client.sendGroupMessage({ webhook: token }, { type: 'text', content: 'x' }),
    ).rejects.toMatchObject({
      errcode: 300001,
      errorClass: 'permanent',
    });
  });

  it('refuses a webhook host outside the allow-list without sending anything', async () => {
    await t.emulator.control.putRobot(token);
    const elsewhere = `http://localhost:1/robot/send?access_token=${token}`;
    await expect(
      t.client.sendGroupMessage({ webhook: elsewhere }, { type: 'text', content: 'x' }),
    ).rejects.toMatchObject({
      code: DingTalkErrorCode.hostNotAllowed,
    });
    expect(t.requests).toEqual([]);
  });
});

describe('group robot webhook: size and retries', () => {
  it('trims an oversize message instead of having it rejected', async () => {
    await t.emulator.control.putRobot(token, { keywords: ['alarm'] });
    const sent = await t.client.sendGroupMessage(
      { webhook: token, keywords: ['alarm'] },
      { type: 'markdown', title: 'Logs', text: '日志行 '.repeat(8_000) },
    );
    expect(sent.trimmed).toBe(true);
    const [received] = await t.emulator.control.messages({ robot: token });
    expect(received?.text).toMatch(/\(truncated\)\n\nalarm$/);
  });

  it('does not show a retried message twice when the msgUuid is reused', async () => {
    await t.emulator.control.putRobot(token);
    const { msgUuid } = await t.client.sendGroupMessage(
      { webhook: token },
      { type: 'text', content: 'once' },
    );
    await t.client.sendGroupMessage({ webhook: token }, { type: 'text', content: 'once' }, { msgUuid });
    expect(await t.emulator.control.messages({ robot: token })).toHaveLength(1);
    expect(await t.emulator.control.stats()).toMatchObject({ duplicatesSuppressed: 1, shownDuplicates: 0 });
  });
});

// With the product's timeouts: a fault that clears, and a slow answer, cost no alarm.
describe('group robot webhook: recovery', () => {
  it('recovers once the fault is cleared', async () => {
    await t.emulator.control.putRobot(token);
    await t.emulator.control.setFault({ robot: token }, { kind: 'reset', times: 1 });
    await expect(
      t.client.sendGroupMessage({ webhook: token }, { type: 'text', content: 'x' }),
    ).rejects.toMatchObject({
      errorClass: 'transient',
    });
    await t.client.sendGroupMessage({ webhook: token }, { type: 'text', content: 'x' });
    expect(await t.emulator.control.messages({ robot: token })).toHaveLength(1);
  });

  it('delivers despite latency within the timeouts', async () => {
    await t.emulator.control.putRobot(token);
    await t.emulator.control.setFault({ robot: token }, { kind: 'latency', ms: 50 });
    await t.client.sendGroupMessage({ webhook: token }, { type: 'text', content: 'slow' });
    expect(await t.emulator.control.messages({ robot: token })).toHaveLength(1);
  });
});
