import { describe, expect, it } from 'vitest';
import { create, groupService, secret, tokenFor, waitForPhase } from '../dispatch/harness.ts';
import { fastGrouping, useTenants } from './tenants.ts';

const t = useTenants();

// More robots than the operator keeps connections to one DingTalk origin (16).
const ROBOTS = 20;

describe('endless answers', () => {
  it("robots whose answers trickle in forever hold no connection past the request deadline, so another team's alarms still go out", async () => {
    const tokens = Array.from({ length: ROBOTS }, (_, i) => tokenFor(`trickle${i}x`));
    for (const token of tokens) {
      await t.emulator.control.putRobot(token, { name: token });
      await t.emulator.control.setFault({ robot: token }, { kind: 'trickle', intervalMs: 1_000 });
    }
    await secret(
      t.attacker,
      'robots',
      Object.fromEntries(
        tokens.map((token, i) => [`r${i}`, `${t.emulator.url}/robot/send?access_token=${token}`]),
      ),
    );
    await create(t.attacker, 'DingTalkService', 'slow', {
      sendTo: ['Group'],
      groups: tokens.map((_, i) => ({ name: `g${i}`, webhook: { name: 'robots', key: `r${i}` } })),
    });
    await create(t.attacker, 'AlarmRule', 'to-slow', {
      services: [{ name: 'slow' }],
      grouping: fastGrouping,
    });
    await create(t.attacker, 'AlarmEvent', 'hold', { severity: 'critical', title: 'hold every connection' });
    await waitForPhase(t.attacker, 'hold', ['Delivering', 'Failed', 'PartiallyDelivered', 'Delivered']);

    const robot = tokenFor('endlessvictim');
    await groupService(t.victim, 'ops', { token: robot });
    await create(t.victim, 'AlarmRule', 'to-ops', { services: [{ name: 'ops' }], grouping: fastGrouping });
    await create(t.victim, 'AlarmEvent', 'urgent', { severity: 'critical', title: 'needs to go out' });
    await waitForPhase(t.victim, 'urgent', ['Delivered'], 90_000);
    expect(await t.emulator.control.messages({ robot })).toHaveLength(1);
    await t.emulator.control.reset();
  }, 180_000);
});
