import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runningCluster } from '../cluster/cluster-env.ts';
import { type RunningEmulator, startEmulator } from '../emulator/server.ts';
import { eventually } from '../support/kube.ts';
import { condition, hex, objects, type RunningOperator, startOperator } from './harness.ts';

/**
 * The operator's watches break when the API server restarts. This file runs a control plane of its own
 * (the shared one must not go down under other suites), kills its kube-apiserver under a running
 * operator, starts it again, changes things at once, and checks the operator catches up.
 */

const run = promisify(execFile);
const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const clusterDir = path.join(repoRoot, 'test/cluster');
const runDir = path.join(repoRoot, '.run', `dts-restart-${process.pid}`);
const namespace = 'dts-restart';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('DingTalkService controller across an API server restart', () => {
  let kubeConfig: KubeConfig;
  let emulator: RunningEmulator;
  let operator: RunningOperator | undefined;

  beforeAll(async () => {
    await run('bash', [path.join(clusterDir, 'up.sh'), runDir], { maxBuffer: 64 << 20 });
    const kubeconfig = runningCluster(runDir).KUBECONFIG;
    const kubectl = (...args: string[]) => run(inject('kubectl'), ['--kubeconfig', kubeconfig, ...args]);
    await kubectl('apply', '--server-side', '-f', path.join(repoRoot, 'crds'));
    await kubectl('wait', '--for=condition=Established', '--timeout=60s', '-f', path.join(repoRoot, 'crds'));
    kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(kubeconfig);
    await kubeConfig.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
    emulator = await startEmulator();
  });
  afterAll(async () => {
    await operator?.stop();
    await emulator?.close();
    await run('bash', [path.join(clusterDir, 'down.sh'), runDir]);
  });

  it('catches up with Secrets and services changed while its watches were down', async () => {
    const o = objects(kubeConfig, namespace);
    const token = hex(32);
    await emulator.control.putRobot(token, { name: 'ops' });
    const group = (secret: string) => ({ name: 'ops', webhook: { name: secret, key: 'webhook' } });
    await o.createService('waiting', { sendTo: ['Group'], groups: [group('waiting-robot')] });

    operator = startOperator({
      kubeconfig: runningCluster(runDir).KUBECONFIG,
      namespace,
      emulatorUrl: emulator.url,
    });
    const ready = async (name: string) => condition((await o.service(name)).status, 'Ready');
    await eventually(async () => ((await ready('waiting'))?.reason === 'SecretNotFound' ? true : undefined));

    const pid = Number(readFileSync(path.join(runDir, 'apiserver.pid'), 'utf8'));
    process.kill(pid, 'SIGKILL');
    await eventually(() => (alive(pid) ? undefined : true));
    await run('bash', [path.join(runDir, 'start-apiserver.sh')]);
    const core = kubeConfig.makeApiClient(CoreV1Api);
    await eventually(() => core.listNamespace({ limit: 1 }), { timeoutMs: 60_000, intervalMs: 200 });

    // Changed as soon as the API server answers; the operator's informers are most likely backing off.
    await o.putSecret('waiting-robot', { webhook: token });
    await o.putSecret('new-robot', { webhook: token });
    await o.createService('created-meanwhile', { sendTo: ['Group'], groups: [group('new-robot')] });

    for (const name of ['waiting', 'created-meanwhile']) {
      await eventually(async () => ((await ready(name))?.status === 'True' ? true : undefined), {
        timeoutMs: 90_000,
        intervalMs: 250,
      });
    }
    expect(operator.logs.join('')).toMatch(
      /list\/watch failed; retrying|watch silent for too long|relisting/,
    );
  });
});
