import { describe, expect, it } from 'vitest';
import { createClock } from './clock.ts';
import { handleRobotSend, type RobotSendRequest } from './robot-send.ts';
import type { RobotSpec } from './schemas.ts';
import { createWorld } from './world.ts';

// The third signature vector of dingtalk-api.md §1.3, checked from the server's side.
const secret = 'SEC0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
const signedAt = 1700000000000;
const sign = 'bTgY2yDbep+wesS7jKiNj+srsHoADES4+C4f8LCHFtU=';

function setup(spec: RobotSpec = {}, nowMs = signedAt) {
  const world = createWorld(createClock(() => nowMs));
  world.putRobot('tok', spec);
  const send = (body: unknown, overrides: Partial<RobotSendRequest> = {}) =>
    handleRobotSend(world, {
      query: new URLSearchParams({ access_token: 'tok' }),
      contentType: 'application/json',
      body: Buffer.from(JSON.stringify(body)),
      ip: '127.0.0.1',
      ...overrides,
    });
  return { world, send };
}

const text = (content: string, extra: object = {}) => ({ msgtype: 'text', text: { content }, ...extra });
const signedQuery = (timestamp: number, signature = sign) =>
  new URLSearchParams({ access_token: 'tok', timestamp: String(timestamp), sign: signature });

describe('emulated /robot/send', () => {
  it('accepts the documented signature vector, decoded once from the query', () => {
    const { send } = setup({ secret });
    const query = new URLSearchParams(
      `access_token=tok&timestamp=${signedAt}&sign=${encodeURIComponent(sign)}`,
    );
    expect(send(text('hi'), { query })).toEqual({ errcode: 0, errmsg: 'ok' });
  });

  it('refuses a wrong signature and one outside the one-hour window', () => {
    expect(setup({ secret }).send(text('hi'), { query: signedQuery(signedAt, 'AAAA') }).errmsg).toBe(
      'sign not match',
    );
    const late = setup({ secret }, signedAt + 3_600_001);
    expect(late.send(text('hi'), { query: signedQuery(signedAt) }).errmsg).toBe('invalid timestamp');
  });

  it('applies the IPv4 allow-list, refusing IPv6 sources', () => {
    const { send } = setup({ ipAllowList: ['10.1.0.0/16', '192.168.1.7'] });
    expect(send(text('hi'), { ip: '::ffff:10.1.2.3' }).errcode).toBe(0);
    expect(send(text('hi'), { ip: '192.168.1.7' }).errcode).toBe(0);
    expect(send(text('hi'), { ip: '10.2.0.1' }).errcode).toBe(310000);
    expect(send(text('hi'), { ip: '::1' }).errcode).toBe(310000);
  });

  it('refuses bodies over 20000 bytes, unknown types, bad JSON and other content types', () => {
    const { send } = setup();
    expect(send(text('x'.repeat(20_000))).errcode).toBe(460101);
    expect(send({ msgtype: 'image' }).errcode).toBe(400105);
    expect(send({}, { body: Buffer.from('{') }).errcode).toBe(40035);
    expect(send(text('hi'), { contentType: 'application/x-www-form-urlencoded' }).errcode).toBe(43004);
  });

  it('notifies only mentioned members whose @ appears in the text', () => {
    const { world, send } = setup();
    send(text('disk full @13800000000', { at: { atMobiles: ['13800000000', '13900000000'] } }));
    expect(world.messages[0]?.mentions?.notified).toEqual(['13800000000']);
  });

  it('counts an identical message shown twice, but not a msgUuid retry', () => {
    const { world, send } = setup();
    send(text('same', { msgUuid: 'u1' }));
    send(text('same', { msgUuid: 'u1' }));
    send(text('same'));
    expect(world.messages).toHaveLength(2);
    expect(world.stats).toMatchObject({ duplicatesSuppressed: 1, shownDuplicates: 1 });
  });

  it("answers 90030 once the robot's monthly limit is spent, until the month turns in China Standard Time", () => {
    const world = createWorld(createClock(() => Date.parse('2026-12-31T15:59:00Z')));
    world.putRobot('tok', { monthlyLimit: 2 });
    const send = () =>
      handleRobotSend(world, {
        query: new URLSearchParams({ access_token: 'tok' }),
        contentType: 'application/json',
        body: Buffer.from(JSON.stringify(text('hi'))),
        ip: '127.0.0.1',
      }).errcode;
    expect([send(), send(), send()]).toEqual([0, 0, 90030]);
    world.clock.advance(60_000);
    expect(send()).toBe(0);
  });
});
