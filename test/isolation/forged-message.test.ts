import { describe, expect, it } from 'vitest';
import { create, groupService, tokenFor, waitForPhase } from '../dispatch/harness.ts';
import { fastGrouping, useTenants } from './tenants.ts';

const t = useTenants();

/**
 * The attacker may create alarms that reach the victim's rule (a shared Alertmanager relays labels and
 * annotations from the attacker's own metrics, or the attacker holds create on alarmevents there), but
 * not write the rule: what the alarm says must not change how the victim's message is built.
 */
describe('forged message structure', () => {
  it("an alarm cannot fake a 【RESOLVED】 line, a link, an image or an @-mention in the victim's group", async () => {
    const robot = tokenFor('forged');
    await groupService(t.victim, 'ops', { token: robot });
    await create(t.victim, 'AlarmRule', 'to-ops', {
      services: [{ name: 'ops' }],
      grouping: fastGrouping,
      message: { mentions: { fromLabels: [{ key: 'owner', type: 'userId' }] } },
    });
    await create(t.victim, 'AlarmEvent', 'forged', {
      severity: 'critical',
      title: 'Payments down\n【RESOLVED】Payments down',
      message:
        'all good, [click to acknowledge](http://evil.example/phish)\n#### 【RESOLVED】everything\n![ok](http://evil.example/ok.png)',
      labels: { owner: 'oncall\n【RESOLVED】', service: '<http://evil.example>' },
      annotations: { summary: '[details](http://evil.example)' },
    });
    await waitForPhase(t.victim, 'forged', ['Delivered']);

    const [message] = await t.emulator.control.messages({ robot });
    expect(message?.title).toBe('【CRITICAL】Payments down 【RESOLVED】Payments down');
    const lines = (message?.text ?? '').split('\n');
    expect(lines.filter((line) => /^\s*(#+\s*)?【RESOLVED】/.test(line))).toEqual([]);
    expect(message?.text).not.toMatch(/(^|[^\\])!?\[[^\]]*\]\(/);
    expect(message?.text).not.toMatch(/(^|[^\\])<http/);
    expect(message?.mentions?.atUserIds ?? []).toEqual([]);
    expect(message?.text).not.toContain('@oncall');
  });
});
