import type { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseManifests, renderChart } from '../packaging/helm.ts';
import { createTestNamespace, eventually, kubectl, testKubeConfig } from '../support/kube.ts';
import {
  alertmanagerPayload,
  diskAlert,
  listAlarmEvents,
  postJson,
  serviceAccountToken,
  startReceiver,
} from './support.ts';

/**
 * One team floods the receiver with alarms; another team's alarms must still get in. The receiver's
 * per-namespace rate answers the flood 429 once its writes are spent (saying what it stored), and the
 * chart's ResourceQuota on AlarmEvents bounds what a namespace can keep in etcd, whatever the number of
 * receiver replicas.
 */

describe('a namespace flooding the receiver', () => {
  let kubeConfig: KubeConfig;
  let flooder: { name: string; cleanup: () => Promise<void> };
  let victim: { name: string; cleanup: () => Promise<void> };
  let flooderToken: string;
  let victimToken: string;

  beforeAll(async () => {
    kubeConfig = testKubeConfig();
    flooder = await createTestNamespace('flood-a');
    victim = await createTestNamespace('flood-b');
    flooderToken = await serviceAccountToken(kubeConfig, flooder.name, 'alertmanager', { mayCreate: true });
    victimToken = await serviceAccountToken(kubeConfig, victim.name, 'alertmanager', { mayCreate: true });
  });

  afterAll(async () => {
    await flooder?.cleanup();
    await victim?.cleanup();
  });

  /** `count` firing alerts, distinct from every other call's. */
  let seed = 0;
  const batch = (count: number) => {
    seed++;
    return alertmanagerPayload(Array.from({ length: count }, (_, i) => diskAlert(i, 'firing', seed)));
  };
  const url = (receiverUrl: string, namespace: string) =>
    `${receiverUrl}/api/v1/namespaces/${namespace}/alertmanager`;

  it('is answered 429 with Retry-After over its rate, while the other namespace is not', async () => {
    const receiver = await startReceiver(kubeConfig, {
      // A slow refill (one alarm every 20 s), so even a slow post finds the budget spent.
      flags: ['--namespace-rate=0.05', '--namespace-burst=20', '--max-batch=20'],
    });
    try {
      const statuses: number[] = [];
      const limited: Awaited<ReturnType<typeof postJson>>[] = [];
      for (let i = 0; i < 6; i++) {
        const response = await postJson(url(receiver.url, flooder.name), batch(10), flooderToken);
        statuses.push(response.status);
        if (response.status === 429) limited.push(response);
      }
      expect(statuses.slice(0, 2)).toEqual([202, 202]);
      expect(statuses.slice(2).every((status) => status === 429)).toBe(true);
      for (const response of limited) {
        expect(response.json.code).toBe('RCV_ERR_RATE_LIMITED');
        expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        // What the refill allowed meanwhile is stored and said so.
        expect(Number(response.json.accepted) + Number(response.json.left)).toBe(10);
        expect(response.json.left).toBeGreaterThan(0);
      }
      const storedWhileLimited = limited.reduce((sum, response) => sum + Number(response.json.accepted), 0);
      expect(await listAlarmEvents(kubeConfig, flooder.name)).toHaveLength(20 + storedWhileLimited);

      const other = await postJson(url(receiver.url, victim.name), batch(20), victimToken);
      expect(other.status).toBe(202);
      expect(await listAlarmEvents(kubeConfig, victim.name)).toHaveLength(20);
    } finally {
      await receiver.close();
    }
  });

  it("is held to the chart's AlarmEvent quota and answered 429, while the other namespace is not", async () => {
    const quotas = parseManifests(
      await renderChart({
        release: 'flood',
        namespace: 'dingtalk-operator',
        set: [
          'alarmEventQuota.enabled=true',
          'alarmEventQuota.maxAlarmEvents=25',
          `alarmEventQuota.namespaces={${flooder.name}}`,
        ],
      }),
    ).filter((object) => object.kind === 'ResourceQuota');
    expect(quotas.map((q) => q.metadata.namespace)).toEqual([flooder.name]);
    await kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: quotas }));
    // The quota admits nothing until the quota controller has counted what is there: on a fresh cluster,
    // after its discovery resync (30 s) and the test cluster's quota resync (15 s).
    await eventually(
      async () => {
        const used = await kubectl([
          'get',
          'resourcequota',
          '-n',
          flooder.name,
          '-o',
          'jsonpath={.items[0].status.used}',
        ]);
        return used.includes('count/alarmevents.dingtalk.alarming.io') ? true : undefined;
      },
      { timeoutMs: 180_000, intervalMs: 1_000 },
    );
    const receiver = await startReceiver(kubeConfig);
    try {
      // 20 are there from the test before (or none when run alone): 5 or 25 more fit.
      let limited: Awaited<ReturnType<typeof postJson>> | undefined;
      for (let i = 0; i < 5 && !limited; i++) {
        const response = await postJson(url(receiver.url, flooder.name), batch(10), flooderToken);
        if (response.status === 429) limited = response;
        else expect(response.status).toBe(202);
      }
      expect(limited?.json.code).toBe('RCV_ERR_QUOTA_EXCEEDED');
      expect(limited?.headers.get('retry-after')).toBeTruthy();
      // The request that met the quota stored what fitted and says what is left for later.
      expect(Number(limited?.json.accepted) + Number(limited?.json.left)).toBe(10);
      expect(limited?.json.left).toBeGreaterThan(0);
      expect(await listAlarmEvents(kubeConfig, flooder.name)).toHaveLength(25);

      const other = await postJson(url(receiver.url, victim.name), batch(10), victimToken);
      expect(other.status).toBe(202);
    } finally {
      await receiver.close();
    }
  }, 300_000);
});
