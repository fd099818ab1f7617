import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningEmulator, startEmulator } from '../emulator/server.ts';
import { eventually } from '../support/kube.ts';
import { type PrivateControlPlane, startPrivateControlPlane } from '../support/private-control-plane.ts';
import { condition, hex, objects, type RunningOperator, startOperator } from './harness.ts';

/**
 * The operator's watches break when the API server restarts. This file runs a control plane of its own
 * (the shared one must not go down under other suites), kills its kube-apiserver under a running
 * operator, starts it again, changes things at once, and checks the operator catches up.
 */

const namespace = 'dts-restart';

describe('DingTalkService controller across an API server restart', () => {
  let plane: PrivateControlPlane;
  let kubeConfig: KubeConfig;
  let emulator: RunningEmulator;
  let operator: RunningOperator | undefined;

  beforeAll(async () => {
    plane = await startPrivateControlPlane('dts-restart', { installCrds: true });
    kubeConfig = plane.kubeConfig;
    await kubeConfig.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
    emulator = await startEmulator();
  });
  afterAll(async () => {
    await operator?.stop();
    await emulator?.close();
    await plane.down();
  });

  it('catches up with Secrets and services changed while its watches were down', async () => {
    const o = objects(kubeConfig, namespace);
    const token = hex(32);
    await emulator.control.putRobot(token, { name: 'ops' });
    const group = (secret: string) => ({ name: 'ops', webhook: { name: secret, key: 'webhook' } });
    await o.createService('waiting', { sendTo: ['Group'], groups: [group('waiting-robot')] });

    operator = startOperator({
      kubeconfig: plane.kubeconfigPath,
      namespace,
      emulatorUrl: emulator.url,
    });
    const ready = async (name: string) => condition((await o.service(name)).status, 'Ready');
    await eventually(async () => ((await ready('waiting'))?.reason === 'SecretNotFound' ? true : undefined));

    await plane.stopApiServer();
    await plane.startApiServer();
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
