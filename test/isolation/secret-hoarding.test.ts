import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { create, groupService, tokenFor, waitForPhase } from '../dispatch/harness.ts';
import type { RunningCommand } from '../packaging/processes.ts';
import { startChartCommand } from '../support/chart-command.ts';
import { createInParallel } from '../support/create-retrying.ts';
import { eventually, testKubeConfig } from '../support/kube.ts';
import { useOwnControlPlane } from '../support/private-control-plane.ts';
import { fastGrouping, useTenants } from './tenants.ts';

/**
 * Secrets and ConfigMaps no service refers to, against the operator as the chart installs it: every
 * namespace, Secret access across the cluster, its heap sized from the chart's memory limit. On a control
 * plane of its own, so every Secret and ConfigMap of the cluster is one this file made.
 */

useOwnControlPlane('secret-hoarding');
const t = useTenants({ inProcess: false });
let core: CoreV1Api;
let operator: RunningCommand;

beforeAll(async () => {
  core = testKubeConfig().makeApiClient(CoreV1Api);
  operator = await startChartCommand('operator', { emulatorUrl: t.emulator.url });
});
afterAll(async () => {
  await operator?.stop();
});

function rss(): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${operator.pid}/status`, 'utf8'));
  if (!match) throw new Error('no VmRSS');
  return Number(match[1]) * 1024;
}

/**
 * The operator's resident memory once garbage is out of the way: the lowest of samples over 5 s. What
 * it holds stays in every sample; what a burst of work left for the collector does not.
 */
async function settledRss(): Promise<number> {
  let lowest = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 20; i++) {
    lowest = Math.min(lowest, rss());
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return lowest;
}

const MiB = 2 ** 20;

describe('secret hoarding', () => {
  it("5,000 Secrets and 2,000 ConfigMaps the services do not use leave the operator's memory as it was, and a rotated webhook Secret is picked up by the next alarms", async () => {
    const first = tokenFor('hoardfirst');
    await groupService(t.victim, 'ops', { token: first });
    await create(t.victim, 'AlarmRule', 'to-ops', { services: [{ name: 'ops' }], grouping: fastGrouping });
    await create(t.victim, 'AlarmEvent', 'before', { severity: 'warning', title: 'before' });
    await waitForPhase(t.victim, 'before', ['Delivered'], 60_000);
    const before = await settledRss();

    // Like Helm release Secrets: one in twelve is 100 KB. Half in each namespace; the victim's share the
    // referenced Secret's watch stream, so by the time its rotation is seen, they have all been seen.
    const big = randomBytes(75 * 1024).toString('base64');
    await createInParallel(5000, 32, (i) =>
      core.createNamespacedSecret({
        namespace: i % 2 ? t.attacker.namespace : t.victim.namespace,
        body: {
          metadata: { name: `unrelated-${i}`, labels: { owner: 'helm' } },
          data: { release: i % 12 === 0 ? big : randomBytes(96).toString('base64') },
        },
      }),
    );
    await createInParallel(2000, 32, (i) =>
      core.createNamespacedConfigMap({
        namespace: i % 2 ? t.attacker.namespace : t.victim.namespace,
        body: {
          metadata: { name: `unrelated-${i}` },
          data: { 'members.csv': `name,mobile\nx${i},1380000${i}` },
        },
      }),
    );

    const rotated = tokenFor('hoardrotated');
    await t.emulator.control.putRobot(rotated, { name: 'ops' });
    await core.patchNamespacedSecret(
      {
        namespace: t.victim.namespace,
        name: 'ops-robot',
        body: { stringData: { webhook: `${t.emulator.url}/robot/send?access_token=${rotated}` } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    // An alarm a second until one reaches the rotated robot.
    let alarms = 0;
    await eventually(
      async () => {
        await create(t.victim, 'AlarmEvent', `after-${alarms++}`, {
          severity: 'warning',
          title: `after ${alarms}`,
        });
        return (await t.emulator.control.messages({ robot: rotated })).length > 0 ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 1000 },
    );

    // Informers over every Secret and ConfigMap hold all of them (over 40 MB of Secret data alone): the
    // settled RSS then grew by 38 MiB; reading only the referenced ones, it stayed within a few MiB.
    expect(((await settledRss()) - before) / MiB).toBeLessThan(16);
  }, 600_000);
});
