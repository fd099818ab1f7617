import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { CoordinationV1Api, EventsV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type RunningEmulator, startEmulator } from '../emulator/server.ts';
import { createTestNamespace, eventually, testKubeConfig } from '../support/kube.ts';
import { operatorFlags } from '../support/operator-flags.ts';
import { condition, hex, objects } from './harness.ts';

/**
 * Two operator processes against one API server: only the one holding the Lease reconciles, and when
 * it is killed (no chance to release the Lease) the other takes over once the Lease runs out.
 */

const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const LEASE = 'dts-leader';
/** Start-up, cache sync and a handover on a loaded machine. */
const slow = { timeoutMs: 60_000, intervalMs: 250 };

interface OperatorProcess {
  identity: string;
  child: ChildProcess;
  output: string[];
}

describe('DingTalkService controller with leader election', () => {
  const kubeConfig = testKubeConfig();
  let namespace: string;
  let cleanup: () => Promise<void>;
  let emulator: RunningEmulator;
  const processes: OperatorProcess[] = [];

  const spawnOperator = (identity: string): OperatorProcess => {
    const child = spawn(
      process.execPath,
      [
        path.join(repoRoot, 'operator/cli.ts'),
        'run',
        '--kubeconfig',
        inject('kubeconfig'),
        ...operatorFlags(emulator.url, namespace),
        '--leader-elect',
        'true',
        '--leader-election-namespace',
        namespace,
        '--leader-election-lease',
        LEASE,
        '--leader-election-identity',
        identity,
        // The defaults: a renewal the loaded API server answers late must not cost the leader its lease.
        '--lease-duration',
        '15s',
        '--renew-deadline',
        '10s',
        '--retry-period',
        '2s',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KUBECONFIG: '' } },
    );
    const output: string[] = [];
    child.stdout?.on('data', (chunk) => output.push(String(chunk)));
    child.stderr?.on('data', (chunk) => output.push(String(chunk)));
    const running = { identity, child, output };
    processes.push(running);
    return running;
  };
  const leads = (p: OperatorProcess) => p.output.join('').includes('leading; starting components');
  const holder = async () =>
    (await kubeConfig.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: LEASE, namespace })).spec
      ?.holderIdentity;
  /**
   * Which replicas recorded events about a service: the ones that reconciled it. Only these two are
   * asked about, since the shared control plane may run other suites' operators too.
   */
  const reporters = async (service: string) => {
    const events = await kubeConfig.makeApiClient(EventsV1Api).listNamespacedEvent({ namespace });
    return new Set(events.items.filter((e) => e.regarding?.name === service).map((e) => e.reportingInstance));
  };

  beforeAll(async () => {
    ({ name: namespace, cleanup } = await createTestNamespace('dts-leader'));
    emulator = await startEmulator();
  });
  afterAll(async () => {
    for (const p of processes) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    await emulator.close();
    await cleanup();
  });

  it('reconciles only on the leader, and hands over when the leader is killed', async () => {
    const o = objects(kubeConfig, namespace);
    const a = spawnOperator('replica-a');
    const b = spawnOperator('replica-b');
    const leader = await eventually(() => [a, b].find(leads), slow);
    const follower = leader === a ? b : a;
    expect(await holder()).toBe(leader.identity);

    const token = hex(32);
    await emulator.control.putRobot(token, { name: 'ops' });
    await o.putSecret('robot', { webhook: token });
    const group = { name: 'ops', webhook: { name: 'robot', key: 'webhook' } };
    await o.createService('before', { sendTo: ['Group'], groups: [group] });
    await eventually(
      async () =>
        condition((await o.service('before')).status, 'Ready')?.status === 'True' ? true : undefined,
      slow,
    );
    const beforeReporters = await eventually(async () => {
      const found = await reporters('before');
      return found.has(leader.identity) ? found : undefined;
    }, slow);
    expect(beforeReporters.has(follower.identity)).toBe(false);
    expect(leads(follower)).toBe(false);
    expect(follower.output.join('')).not.toContain('readiness changed');

    const killedAt = performance.now();
    leader.child.kill('SIGKILL');
    await eventually(() => (leads(follower) ? true : undefined), slow);
    console.info(`handover after ${Math.round(performance.now() - killedAt)} ms (lease duration 15 s)`);
    expect(await holder()).toBe(follower.identity);

    await o.createService('after', { sendTo: ['Group'], groups: [group] });
    await eventually(
      async () =>
        condition((await o.service('after')).status, 'Ready')?.status === 'True' ? true : undefined,
      slow,
    );
    await eventually(
      async () => ((await reporters('after')).has(follower.identity) ? true : undefined),
      slow,
    );
  }, 300_000);
});
