import { CoordinationV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { create, get, groupService, tokenFor } from '../dispatch/harness.ts';
import type { RunningCommand } from '../packaging/processes.ts';
import { CHART_NAMESPACE, CHART_RELEASE, startChartCommand } from '../support/chart-command.ts';
import { HOSTILE_TEMPLATES } from '../support/hostile-templates.ts';
import { eventually, testKubeConfig } from '../support/kube.ts';
import { useOwnControlPlane } from '../support/private-control-plane.ts';
import { fastGrouping, raiseSideBySide, useTenants } from './tenants.ts';

/**
 * Issue 27, item 2: templates that search within searches, which liquidjs neither charged nor could
 * interrupt, blocked the leader's event loop for seconds at the rule check and at every notification;
 * longer than the renew deadline, the leader lost its Lease and the next leader checked the same rule.
 * Two operator processes run as the chart installs them (every namespace, its leader election timings, its
 * heap sized from its memory limit), on a control plane of their own; an attacker's rules carry the two
 * templates; the Lease must stay where it is and the victim's alarms must be delivered.
 */

useOwnControlPlane('template-lease');
const t = useTenants({ inProcess: false });
const LEASE = `${CHART_RELEASE}-leader`;
const operators: RunningCommand[] = [];

async function operator(identity: string): Promise<RunningCommand> {
  const command = await startChartCommand('operator', { emulatorUrl: t.emulator.url, podName: identity });
  operators.push(command);
  return command;
}

const holder = async () =>
  (
    await testKubeConfig()
      .makeApiClient(CoordinationV1Api)
      .readNamespacedLease({ name: LEASE, namespace: CHART_NAMESPACE })
  ).spec?.holderIdentity;

/** Every holder the Lease had, read every half second while the test runs. */
const holders = new Set<string | undefined>();
let watching: NodeJS.Timeout | undefined;

beforeAll(async () => {
  await operator('first');
  await eventually(async () => ((await holder()) === 'first' ? true : undefined), { timeoutMs: 90_000 });
  await operator('second');
  watching = setInterval(() => {
    holder().then(
      (identity) => holders.add(identity),
      () => undefined,
    );
  }, 500);
});
afterAll(async () => {
  clearInterval(watching);
  await Promise.all(operators.map((o) => o.stop()));
});

const condition = async (name: string, type: string) => {
  const rule = await get(t.attacker, 'AlarmRule', name);
  return ((rule.status?.conditions ?? []) as { type: string; status: string; reason: string }[]).find(
    (c) => c.type === type,
  );
};

describe('templates that search within searches', () => {
  it("are TemplateTooExpensive without costing the leader its Lease, and another team's alarms are delivered", async () => {
    const victimRobot = tokenFor('victimlease');
    await groupService(t.victim, 'ops', { token: victimRobot });
    await create(t.victim, 'AlarmRule', 'to-ops', { services: [{ name: 'ops' }], grouping: fastGrouping });

    const attackerRobot = tokenFor('attackerlease');
    await groupService(t.attacker, 'noisy', { token: attackerRobot });
    // Several rules, as any tenant may write: on the old code each check blocked the loop in turn.
    const rules = {
      'nested-find-exp-1': HOSTILE_TEMPLATES.nestedFindExp,
      'nested-find-exp-2': HOSTILE_TEMPLATES.nestedFindExp,
      'nested-find-exp-3': HOSTILE_TEMPLATES.nestedFindExp,
      'find-exp-over-has': HOSTILE_TEMPLATES.findExpOverHas,
    };
    for (const [name, body] of Object.entries(rules)) {
      await create(t.attacker, 'AlarmRule', name, {
        services: [{ name: 'noisy' }],
        grouping: { ...fastGrouping, groupBy: ['...'] },
        message: { type: 'markdown', title: '{{ alarm.title }}', body },
      });
    }
    // The victim's alarms are delivered; the attacker's too, in the built-in text.
    await raiseSideBySide(t, 3);
    const sent = await t.emulator.control.messages({ robot: attackerRobot });
    expect(sent.length).toBeGreaterThan(0);
    for (const message of sent) expect(message.text).toContain('Rule ');
    const verdicts = await Promise.all(
      Object.keys(rules).map((name) =>
        eventually(() => condition(name, 'TemplatesValid'), { timeoutMs: 60_000 }),
      ),
    );

    // A leader that missed its renew deadline shows only once its Lease has run out and the other
    // replica took it: watch the holder for a lease duration and more after the attack was answered.
    await new Promise((resolve) => setTimeout(resolve, 20_000));
    expect([...holders]).toEqual(['first']);
    for (const valid of verdicts)
      expect(valid).toMatchObject({ status: 'False', reason: 'TemplateTooExpensive' });
  });
});
