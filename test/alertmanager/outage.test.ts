import { type ChildProcess, spawn } from 'node:child_process';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GROUP, VERSION } from '../../operator/api/index.ts';
import { type RunningEmulator, startEmulator } from '../emulator/server.ts';
import { serviceAccountToken } from '../receiver/support.ts';
import { eventually } from '../support/kube.ts';
import { operatorFlags } from '../support/operator-flags.ts';
import { type PrivateControlPlane, startPrivateControlPlane } from '../support/private-control-plane.ts';
import {
  deliveriesByInstance,
  exampleConfig,
  freePort,
  instanceName,
  pushStorm,
  type RunningAlertmanager,
  type RunningReceiver,
  robotForAlertmanager,
  startAlertmanager,
  startReceiverCommand,
  tokenFile,
} from './harness.ts';

/**
 * Alertmanager's retries against a receiver that is killed and an API server that is away for 30 s in
 * the middle of a storm: on a control plane of its own (the shared one must stay up), with the operator
 * and the receiver as their commands.
 */

const STORM = 3_000;
const NAMESPACE = 'monitoring';

describe('Alertmanager while the receiver restarts and the API server is away', () => {
  let plane: PrivateControlPlane;
  let emulator: RunningEmulator;
  let operator: ChildProcess | undefined;
  let am: RunningAlertmanager | undefined;
  let receiver: RunningReceiver | undefined;
  let token: ReturnType<typeof tokenFile> | undefined;
  const robot = `${'0'.repeat(60)}down`;

  beforeAll(async () => {
    plane = await startPrivateControlPlane('alertmanager-outage', { installCrds: true });
    emulator = await startEmulator();
  }, 600_000);

  afterAll(async () => {
    await am?.stop();
    await receiver?.kill();
    if (operator && operator.exitCode === null) {
      const exited = new Promise((resolve) => operator?.once('exit', resolve));
      operator.kill('SIGTERM');
      await exited;
    }
    token?.remove();
    await emulator?.close();
    await plane?.down();
  });

  it('brings every alarm in through Alertmanager’s retries; nothing accepted is lost', async () => {
    const { kubeConfig, kubeconfigPath } = plane;
    await kubeConfig.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: NAMESPACE } } });
    token = tokenFile(await serviceAccountToken(kubeConfig, NAMESPACE, 'alertmanager', { mayCreate: true }));
    await robotForAlertmanager(kubeConfig, NAMESPACE, emulator, robot);
    operator = spawn(
      process.execPath,
      [
        'operator/cli.ts',
        'run',
        '--kubeconfig',
        kubeconfigPath,
        ...operatorFlags(emulator.url, NAMESPACE, ['--log-level', 'error']),
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    const custom = kubeConfig.makeApiClient(CustomObjectsApi);
    await eventually(
      async () => {
        const rule = (await custom.getNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace: NAMESPACE,
          plural: 'alarmrules',
          name: 'ops',
        })) as { status?: { conditions?: { type: string; status: string }[] } };
        return rule.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')
          ? true
          : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    const port = await freePort();
    receiver = await startReceiverCommand(kubeconfigPath, port);
    am = await startAlertmanager(exampleConfig(receiver.url, NAMESPACE, token.path));

    const storm = pushStorm(am, 'DiskFull', STORM, 30, new Date());
    // Killed while it stores Alertmanager's first notification, and started again on the same address.
    await eventually(
      async () => {
        const text = await (await fetch(`${receiver?.url}/metrics`)).text();
        return /alarms_total\{endpoint="alertmanager",result="created"\} [1-9]/.test(text) ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    await receiver.kill('SIGKILL');
    receiver = await startReceiverCommand(kubeconfigPath, port);
    // Then the API server goes away for 30 s while the storm goes on.
    await plane.stopApiServer();
    await new Promise((resolve) => setTimeout(resolve, 30_000));
    await plane.startApiServer();
    await storm;

    const delivered = await eventually(
      async () => {
        const seen = deliveriesByInstance(await emulator.control.messages({ robot }));
        const all = Array.from({ length: STORM }, (_, i) => seen.get(instanceName(i))?.firing ?? 0);
        return all.every((firing) => firing > 0) ? all : undefined;
      },
      { timeoutMs: 420_000, intervalMs: 5_000 },
    );
    expect(delivered.filter((firing) => firing !== 1)).toEqual([]);
    const counters = await am.webhookCounters();
    console.info(
      `outage: ${counters.notifications} notifications, ${counters.requests} requests, ${counters.requestsFailed} failed requests, ${counters.notificationsFailed} failed notifications`,
    );
    // The outage made Alertmanager fail and retry; it still brought every alarm in.
    expect(counters.requestsFailed).toBeGreaterThan(0);
  }, 900_000);
});
