import { describe, expect, it } from 'vitest';
import { create, get, groupService, tokenFor, waitForPhase } from '../dispatch/harness.ts';
import { eventually } from '../support/kube.ts';
import { fastGrouping, useTenants } from './tenants.ts';

const t = useTenants();

const ready = (h: typeof t.victim, name: string) =>
  eventually(
    async () => {
      const rule = await get(h, 'AlarmRule', name);
      const conditions = (rule.status?.conditions ?? []) as { type: string; status: string }[];
      return conditions.find((c) => c.type === 'Ready' && c.status === 'True');
    },
    { timeoutMs: 30_000, intervalMs: 250 },
  );

describe('cross-namespace read', () => {
  it("an AlarmRule naming the victim's namespace in spec.match.namespaces receives none of its alarms", async () => {
    const victimRobot = tokenFor('victimread');
    const attackerRobot = tokenFor('attackerread');
    await groupService(t.victim, 'ops', { token: victimRobot });
    await create(t.victim, 'AlarmRule', 'to-ops', { services: [{ name: 'ops' }], grouping: fastGrouping });
    await groupService(t.attacker, 'spy', { token: attackerRobot });
    await create(t.attacker, 'AlarmRule', 'spy', {
      services: [{ name: 'spy' }],
      match: { namespaces: [t.victim.namespace] },
      grouping: fastGrouping,
    });
    await Promise.all([ready(t.victim, 'to-ops'), ready(t.attacker, 'spy')]);
    // The field is not part of AlarmRule: the API server drops it.
    expect((await get(t.attacker, 'AlarmRule', 'spy')).spec).not.toHaveProperty('match.namespaces');

    await create(t.victim, 'AlarmEvent', 'private-incident', {
      severity: 'critical',
      title: 'Customer database credentials rotated',
      message: 'internal details',
    });
    const event = await waitForPhase(t.victim, 'private-incident', [
      'Delivered',
      'PartiallyDelivered',
      'Failed',
    ]);
    const rules = ((event.status?.deliveries ?? []) as { rule: string }[]).map((d) => d.rule);
    expect(rules).toEqual(['to-ops']);
    expect(await t.emulator.control.messages({ robot: victimRobot })).toHaveLength(1);
    expect(await t.emulator.control.messages({ robot: attackerRobot })).toEqual([]);
  });
});
