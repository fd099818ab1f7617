import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestNamespace, eventually, testKubeConfig } from '../support/kube.ts';
import {
  alertmanagerPayload,
  diskAlert,
  listAlarmEvents,
  postJson,
  serviceAccountToken,
  startReceiver,
} from './support.ts';

/** The receiver against the real API server: TokenReview, SubjectAccessReview and AlarmEvents. */

const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

describe('receiver on the API server', () => {
  let kubeConfig: KubeConfig;
  let namespace: { name: string; cleanup: () => Promise<void> };
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let posterToken: string;
  let strangerToken: string;

  beforeAll(async () => {
    kubeConfig = testKubeConfig();
    namespace = await createTestNamespace('receiver');
    posterToken = await serviceAccountToken(kubeConfig, namespace.name, 'alertmanager', { mayCreate: true });
    strangerToken = await serviceAccountToken(kubeConfig, namespace.name, 'stranger', { mayCreate: false });
    receiver = await startReceiver(kubeConfig, { defaultNamespace: namespace.name });
  });

  afterAll(async () => {
    await receiver?.close();
    await namespace?.cleanup();
  });

  const alertmanagerUrl = () => `${receiver.url}/api/v1/namespaces/${namespace.name}/alertmanager`;

  it('answers 401 without a token and with a token the API server does not know', async () => {
    const payload = alertmanagerPayload([diskAlert(1)]);
    const anonymous = await postJson(alertmanagerUrl(), payload);
    expect(anonymous.status).toBe(401);
    expect(anonymous.json.code).toBe('RCV_ERR_UNAUTHENTICATED');
    const forged = await postJson(alertmanagerUrl(), payload, `${posterToken.slice(0, -4)}AAAA`);
    expect(forged.status).toBe(401);
    expect(await listAlarmEvents(kubeConfig, namespace.name)).toEqual([]);
  });

  it('answers 403 to a ServiceAccount without the right to create AlarmEvents there', async () => {
    const response = await postJson(alertmanagerUrl(), alertmanagerPayload([diskAlert(1)]), strangerToken);
    expect(response.status).toBe(403);
    expect(response.json.message).toContain(
      `system:serviceaccount:${namespace.name}:stranger may not create`,
    );
    expect(await listAlarmEvents(kubeConfig, namespace.name)).toEqual([]);
  });

  it('answers 403 when the ServiceAccount may create AlarmEvents, but not in the namespace asked for', async () => {
    const response = await postJson(
      `${receiver.url}/api/v1/namespaces/default/alertmanager`,
      alertmanagerPayload([diskAlert(1)]),
      posterToken,
    );
    expect(response.status).toBe(403);
  });

  it('turns an Alertmanager payload of 3 alerts into 3 AlarmEvents, and a repeat into nothing new', async () => {
    const payload = alertmanagerPayload([diskAlert(1), diskAlert(2), diskAlert(3)]);
    const first = await postJson(alertmanagerUrl(), payload, posterToken);
    expect(first.status).toBe(202);
    expect(first.json.accepted).toBe(3);

    const events = await listAlarmEvents(kubeConfig, namespace.name);
    expect(events.map((e) => e.metadata.name)).toEqual([
      'fp-0000000000000001-1777622400123',
      'fp-0000000000000002-1777622400123',
      'fp-0000000000000003-1777622400123',
    ]);
    expect(events[0]?.spec).toMatchObject({
      severity: 'critical',
      title: 'Disk almost full on node-1',
      message: '/var/lib/containerd is at 93%.',
      source: 'alertmanager',
      state: 'firing',
      fingerprint: '0000000000000001',
      labels: { alertname: 'NodeDiskFull', node: 'node-1' },
    });

    const again = await postJson(alertmanagerUrl(), payload, posterToken);
    expect(again.status).toBe(202);
    expect((again.json.alarms as { result: string }[]).map((a) => a.result)).toEqual([
      'exists',
      'exists',
      'exists',
    ]);
    const after = await listAlarmEvents(kubeConfig, namespace.name);
    expect(after.map((e) => [e.metadata.name, e.metadata.resourceVersion])).toEqual(
      events.map((e) => [e.metadata.name, e.metadata.resourceVersion]),
    );
  });

  it('resolves the AlarmEvents of resolved alerts, and creates resolved ones it never saw', async () => {
    const response = await postJson(
      alertmanagerUrl(),
      alertmanagerPayload([diskAlert(1, 'resolved'), diskAlert(2, 'resolved'), diskAlert(9, 'resolved')]),
      posterToken,
    );
    expect(response.status).toBe(202);
    expect((response.json.alarms as { result: string }[]).map((a) => a.result)).toEqual([
      'resolved',
      'resolved',
      'created',
    ]);
    const byName = new Map(
      (await listAlarmEvents(kubeConfig, namespace.name)).map((e) => [e.metadata.name, e.spec]),
    );
    for (const node of [1, 2, 9]) {
      expect(byName.get(`fp-${node.toString(16).padStart(16, '0')}-1777622400123`)).toMatchObject({
        state: 'resolved',
        endsAt: '2026-05-01T08:42:10Z',
      });
    }
    expect(byName.get('fp-0000000000000003-1777622400123')?.state).toBe('firing');
  });

  it('takes own alarms in the default namespace and Grafana alerts', async () => {
    const own = await postJson(
      `${receiver.url}/api/v1/alarms`,
      [
        { severity: 'info', title: 'Nightly backup finished late', labels: { job: 'backup' } },
        { severity: 'warning', title: 'Certificate expires in 7 days', fingerprint: 'cert-expiry' },
      ],
      posterToken,
    );
    expect(own.status).toBe(202);
    const grafana = await postJson(
      `${receiver.url}/api/v1/grafana?namespace=${namespace.name}`,
      {
        receiver: 'dingtalk',
        status: 'firing',
        orgId: 1,
        alerts: [
          {
            status: 'firing',
            labels: { alertname: 'HighLatency', severity: 'warning' },
            annotations: { summary: 'p99 latency above 2s' },
            startsAt: '2026-05-01T08:00:00Z',
            endsAt: '0001-01-01T00:00:00Z',
            fingerprint: 'abcdef0123456789',
            dashboardURL: 'http://grafana/d/latency',
          },
        ],
      },
      posterToken,
    );
    expect(grafana.status).toBe(202);
    const specs = (await listAlarmEvents(kubeConfig, namespace.name)).map((e) => e.spec);
    expect(specs).toContainEqual(
      expect.objectContaining({ title: 'Nightly backup finished late', state: 'firing' }),
    );
    expect(specs).toContainEqual(expect.objectContaining({ fingerprint: 'cert-expiry' }));
    expect(specs).toContainEqual(
      expect.objectContaining({
        source: 'grafana',
        annotations: expect.objectContaining({ dashboardURL: 'http://grafana/d/latency' }),
      }),
    );
  });

  it('answers 403 for a namespace that does not exist, so callers cannot probe which ones do', async () => {
    const response = await postJson(
      `${receiver.url}/api/v1/namespaces/no-such-namespace/alertmanager`,
      alertmanagerPayload([diskAlert(1)]),
      posterToken,
    );
    expect(response.status).toBe(403);
  });

  it('keeps tokens out of its logs', () => {
    const log = receiver.logLines.join('');
    expect(log).toContain('alarm request');
    expect(log).not.toContain(posterToken);
    expect(log).not.toContain(strangerToken);
  });

  it('runs as the receiver command and stops on SIGTERM', async () => {
    const child: ChildProcess = spawn(
      process.execPath,
      [
        path.join(repoRoot, 'operator/cli.ts'),
        'receiver',
        `--kubeconfig=${inject('kubeconfig')}`,
        '--port=0',
        '--address=127.0.0.1',
        `--namespace=${namespace.name}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout?.on('data', (chunk) => {
      output += String(chunk);
    });
    child.stderr?.on('data', (chunk) => {
      output += String(chunk);
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const port = await eventually(() => /"port":(\d+).*"msg":"receiver listening"/.exec(output)?.[1], {
        timeoutMs: 30_000,
      });
      const response = await postJson(
        `http://127.0.0.1:${port}/api/v1/alarms`,
        { severity: 'critical', title: 'Raised through the command', fingerprint: 'command' },
        posterToken,
      );
      expect(response.status).toBe(202);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(output).toContain('"msg":"stopped"');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
