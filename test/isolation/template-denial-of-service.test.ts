import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { create, get, groupService, tokenFor, waitForPhase } from '../dispatch/harness.ts';
import type { RunningCommand } from '../packaging/processes.ts';
import { startChartCommand } from '../support/chart-command.ts';
import { eventually } from '../support/kube.ts';
import { useOwnControlPlane } from '../support/private-control-plane.ts';
import { fastGrouping, raiseSideBySide, useTenants } from './tenants.ts';

/**
 * Issue 27, item 2, at notifications: the operator as the chart installs it (every namespace, leader
 * election, its heap sized from the chart's memory limit), on a control plane of its own so that it
 * handles no other test file's objects.
 */

useOwnControlPlane('template-dos');
const t = useTenants({ inProcess: false });
let operator: RunningCommand;

beforeAll(async () => {
  // Its own process, so its peak memory is its own.
  operator = await startChartCommand('operator', { emulatorUrl: t.emulator.url });
});
afterAll(async () => {
  await operator?.stop();
});

/** The operator's peak resident memory so far (VmHWM), in bytes. */
function peakRss(): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${operator.pid}/status`, 'utf8'));
  if (!match) throw new Error('no VmHWM');
  return Number(match[1]) * 1024;
}

const condition = async (h: typeof t.victim, name: string, type: string) => {
  const rule = await get(h, 'AlarmRule', name);
  return ((rule.status?.conditions ?? []) as { type: string; status: string; reason: string }[]).find(
    (c) => c.type === type,
  );
};

describe('template denial of service', () => {
  it("a rule looping ten million times is cut by the render budget at bounded memory, and another team's alarms keep flowing", async () => {
    onTestFailed(() => {
      console.log(`the operator's last output:\n${operator.output().slice(-6000)}`);
    });
    const victimRobot = tokenFor('victimdos');
    await groupService(t.victim, 'ops', { token: victimRobot });
    await create(t.victim, 'AlarmRule', 'to-ops', { services: [{ name: 'ops' }], grouping: fastGrouping });
    await create(t.victim, 'AlarmEvent', 'before', { severity: 'warning', title: 'before the attack' });
    await waitForPhase(t.victim, 'before', ['Delivered'], 90_000);
    const baseline = peakRss();

    const attackerRobot = tokenFor('attackerdos');
    await groupService(t.attacker, 'noisy', { token: attackerRobot });
    const loop = '{% for i in (1..10000000) %}{% endfor %}';
    await create(t.attacker, 'AlarmRule', 'expensive', {
      services: [{ name: 'noisy' }],
      grouping: { ...fastGrouping, groupBy: ['...'] },
      message: { title: loop, body: loop },
    });
    // The victim's alarms are delivered; the attacker's too, in the built-in text.
    await raiseSideBySide(t, 5);
    const sent = await t.emulator.control.messages({ robot: attackerRobot });
    expect(sent.every((m) => m.title?.startsWith('【CRITICAL】attack'))).toBe(true);

    const ready = await eventually(() => condition(t.attacker, 'expensive', 'Ready'), { timeoutMs: 30_000 });
    expect(ready).toMatchObject({ status: 'False', reason: 'TemplateTooExpensive' });

    // The ten-million range alone used to allocate hundreds of MB on the event loop. Rendering now happens
    // in a worker, whose heap is bounded (64 MiB) and which may be replaced: a new worker's start costs
    // about 30 MiB more.
    expect(peakRss() - baseline).toBeLessThan((64 + 32) * 2 ** 20);
  });
});
