import { type ChildProcess, spawn } from 'node:child_process';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALARM_EVENT_PLURAL, GROUP, VERSION } from '../../operator/api/index.ts';
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
  type RecordingProxy,
  type RunningAlertmanager,
  type RunningReceiver,
  receiverCount,
  recordingProxy,
  robotForAlertmanager,
  startAlertmanager,
  startReceiverCommand,
  tokenFile,
} from './harness.ts';

/**
 * Alertmanager's retries against a receiver that is killed and an API server that is away for 30 s in
 * the middle of a storm (2,000 alerts over 30 s, a fifth of test 1's, so that the test stays short): on
 * a control plane of its own (the shared one must stay up), with the operator and the receiver as their
 * commands. A proxy between Alertmanager and the receiver writes down every alarm the receiver said it
 * stored.
 */

const STORM = 2_000;
const NAMESPACE = 'monitoring';

describe('Alertmanager while the receiver restarts and the API server is away', () => {
  let plane: PrivateControlPlane;
  let emulator: RunningEmulator;
  let operator: ChildProcess | undefined;
  let am: RunningAlertmanager | undefined;
  let receiver: RunningReceiver | undefined;
  let proxy: RecordingProxy | undefined;
  let token: ReturnType<typeof tokenFile> | undefined;
  const robot = `${'0'.repeat(60)}down`;

  beforeAll(async () => {
    plane = await startPrivateControlPlane('alertmanager-outage', { installCrds: true });
    emulator = await startEmulator();
  }, 600_000);

  afterAll(async () => {
    await am?.stop();
    await proxy?.close();
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

  it('brings every alarm in through Alertmanager’s retries; every alarm the receiver said it stored is kept and delivered', async () => {
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
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    const port = await freePort();
    receiver = await startReceiverCommand(kubeconfigPath, port);
    proxy = await recordingProxy(receiver.url);
    am = await startAlertmanager(exampleConfig(proxy.url, NAMESPACE, token.path));

    const storm = pushStorm(am, 'DiskFull', STORM, 30, new Date());
    // Killed while it stores Alertmanager's first notification, and started again on the same address.
    const running = receiver;
    await eventually(async () => ((await receiverCount(running, 'created')) > 0 ? true : undefined), {
      timeoutMs: 120_000,
      intervalMs: 100,
    });
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
      { timeoutMs: 900_000, intervalMs: 5_000 },
    );
    // Every alarm once: none lost, none twice.
    expect(delivered.filter((firing) => firing !== 1)).toEqual([]);

    // Every alarm the receiver answered for as stored (in a 202, or as the stored part of a 503) is an
    // AlarmEvent, and that AlarmEvent's alarm was delivered (above: all of them).
    const { items } = (await custom.listNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: NAMESPACE,
      plural: ALARM_EVENT_PLURAL,
    })) as { items: { metadata: { name: string }; spec: { labels?: Record<string, string> } }[] };
    const kept = new Set(items.map((item) => item.metadata.name));
    expect(proxy.stored.size).toBeGreaterThanOrEqual(STORM);
    expect([...proxy.stored].filter((name) => !kept.has(name))).toEqual([]);
    expect(items.length).toBe(STORM);
    expect(new Set(items.map((item) => item.spec.labels?.instance)).size).toBe(STORM);

    const counters = await am.webhookCounters();
    console.info(
      `outage: receiver answers ${JSON.stringify(Object.fromEntries(proxy.answers))}; Alertmanager: ${counters.notifications} notifications (${counters.notificationsFailed} failed), ${counters.requests} requests (${counters.requestsFailed} failed)`,
    );
    // The outage was seen: the killed receiver and the absent API server cost Alertmanager failed
    // requests (502 from the proxy, 503 from the receiver), which it retried.
    expect(counters.requestsFailed).toBeGreaterThan(0);
    expect((proxy.answers.get(502) ?? 0) + (proxy.answers.get(503) ?? 0)).toBeGreaterThan(0);
  }, 1_800_000);
});
