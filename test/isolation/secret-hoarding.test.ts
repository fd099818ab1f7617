import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { create, groupService, kubeconfigPath, tokenFor, waitForPhase } from '../dispatch/harness.ts';
import { type RunningCommand, startCommand } from '../packaging/processes.ts';
import { eventually, testKubeConfig } from '../support/kube.ts';
import { operatorFlags } from '../support/operator-flags.ts';
import { fastGrouping, useTenants } from './tenants.ts';

const t = useTenants({ inProcess: false });
const core = testKubeConfig().makeApiClient(CoreV1Api);
let operator: RunningCommand;

beforeAll(() => {
  operator = startCommand([
    'run',
    '--kubeconfig',
    kubeconfigPath(),
    ...operatorFlags(t.emulator.url, t.namespaces, ['--log-level', 'warn']),
  ]);
});
afterAll(async () => {
  await operator?.stop();
});

function rss(): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${operator.pid}/status`, 'utf8'));
  if (!match) throw new Error('no VmRSS');
  return Number(match[1]) * 1024;
}

async function inParallel(count: number, limit: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await fn(next++);
  };
  await Promise.all(Array.from({ length: limit }, worker));
}

const MiB = 2 ** 20;

describe('secret hoarding', () => {
  it("5,000 Secrets and 2,000 ConfigMaps the services do not use leave the operator's memory as it was, and a rotated webhook Secret is used within seconds", async () => {
    const first = tokenFor('hoardfirst');
    await groupService(t.victim, 'ops', { token: first });
    await create(t.victim, 'AlarmRule', 'to-ops', { services: [{ name: 'ops' }], grouping: fastGrouping });
    await create(t.victim, 'AlarmEvent', 'before', { severity: 'warning', title: 'before' });
    await waitForPhase(t.victim, 'before', ['Delivered'], 60_000);
    const before = rss();

    // Like Helm release Secrets: one in twelve is 100 KB. Half in each namespace; the victim's share the
    // referenced Secret's watch stream, so by the time its rotation is seen, they have all been seen.
    const big = randomBytes(75 * 1024).toString('base64');
    await inParallel(5000, 16, (i) =>
      core.createNamespacedSecret({
        namespace: i % 2 ? t.attacker.namespace : t.victim.namespace,
        body: {
          metadata: { name: `unrelated-${i}`, labels: { owner: 'helm' } },
          data: { release: i % 12 === 0 ? big : randomBytes(96).toString('base64') },
        },
      }),
    );
    await inParallel(2000, 16, (i) =>
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
    const rotatedAt = Date.now();
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
    expect(Date.now() - rotatedAt).toBeLessThan(15_000);

    // Today's informers hold every one of them: about 40 MB of Secret data alone.
    expect((rss() - before) / MiB).toBeLessThan(32);
  }, 600_000);
});
