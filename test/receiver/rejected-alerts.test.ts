import { EventsV1Api, type KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chartReceiverFlags } from '../support/chart-command.ts';
import { createTestNamespace, eventually, testKubeConfig } from '../support/kube.ts';
import {
  alertmanagerPayload,
  diskAlert,
  listAlarmEvents,
  postJson,
  serviceAccountToken,
  startReceiver,
} from './support.ts';

/**
 * One invalid alert in an Alertmanager payload, against the real API server: it costs only itself. The
 * receiver runs with the chart's flags; it serves every namespace in any mode.
 */

describe('receiver given a payload with an invalid alert', () => {
  let kubeConfig: KubeConfig;
  let namespace: { name: string; cleanup: () => Promise<void> };
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let token: string;

  beforeAll(async () => {
    kubeConfig = testKubeConfig();
    namespace = await createTestNamespace('receiver-rejects');
    token = await serviceAccountToken(kubeConfig, namespace.name, 'alertmanager', { mayCreate: true });
    receiver = await startReceiver(kubeConfig, {
      defaultNamespace: namespace.name,
      flags: await chartReceiverFlags(),
    });
  });

  afterAll(async () => {
    await receiver?.close();
    await namespace?.cleanup();
  });

  it('stores the valid alerts, answers 202 naming the invalid one, and reports it once as an Event', async () => {
    const url = `${receiver.url}/api/v1/namespaces/${namespace.name}/alertmanager`;
    const broken = { ...diskAlert(2), labels: { ...diskAlert(2).labels, node: 'n'.repeat(1025) } };
    const payload = alertmanagerPayload([diskAlert(1), broken, diskAlert(3)]);
    const answer = await postJson(url, payload, token);
    expect(answer.status).toBe(202);
    expect(answer.json).toMatchObject({
      accepted: 2,
      rejected: [
        {
          path: 'alerts[1]',
          fingerprint: '0000000000000002',
          issues: [{ path: 'alerts[1].labels.node', message: 'label value must be at most 1024 characters' }],
        },
      ],
    });
    expect((await listAlarmEvents(kubeConfig, namespace.name)).map((e) => e.metadata.name)).toEqual([
      'fp-0000000000000001-1777622400123',
      'fp-0000000000000003-1777622400123',
    ]);
    // Alertmanager re-sends the group: the same rejection adds no second Event.
    expect((await postJson(url, payload, token)).status).toBe(202);
    const events = kubeConfig.makeApiClient(EventsV1Api);
    const rejections = await eventually(async () => {
      const list = await events.listNamespacedEvent({ namespace: namespace.name });
      const found = list.items.filter((e) => e.reason === 'AlertsRejected');
      return found.length > 0 ? found : undefined;
    });
    expect(rejections).toHaveLength(1);
    expect(rejections[0]).toMatchObject({
      type: 'Warning',
      reportingController: 'dingtalk.alarming.io/receiver',
      regarding: { kind: 'AlarmEvent', namespace: namespace.name },
    });
    expect(rejections[0]?.note).toContain('1 of 3 alerts sent by Alertmanager were not stored');
    expect(rejections[0]?.note).toContain('alerts[1] (fingerprint 0000000000000002): alerts[1].labels.node');
  });

  it('sets aside only the alert with a __proto__ label, and stores the rest of its group', async () => {
    const url = `${receiver.url}/api/v1/namespaces/${namespace.name}/alertmanager`;
    // A label named __proto__ is a valid Prometheus label name, relayed by Alertmanager as any other.
    const poisoned = JSON.stringify(diskAlert(5)).replace('"labels":{', '"labels":{"__proto__":"x",');
    const body = JSON.stringify(alertmanagerPayload([diskAlert(4), diskAlert(5), diskAlert(6)])).replace(
      JSON.stringify(diskAlert(5)),
      poisoned,
    );
    const answer = await postJson(url, body, token);
    // Before, the whole payload was answered 400 as malformed JSON, and Alertmanager dropped the group.
    expect(answer.status).toBe(202);
    expect(answer.json).toMatchObject({
      accepted: 2,
      rejected: [
        {
          path: 'alerts[1]',
          fingerprint: '0000000000000005',
          issues: [{ path: 'alerts[1].labels.__proto__', message: 'must not be a key' }],
        },
      ],
    });
    const names = (await listAlarmEvents(kubeConfig, namespace.name)).map((e) => e.metadata.name);
    expect(names).toContain('fp-0000000000000004-1777622400123');
    expect(names).toContain('fp-0000000000000006-1777622400123');
    expect(names).not.toContain('fp-0000000000000005-1777622400123');
    const events = kubeConfig.makeApiClient(EventsV1Api);
    await eventually(async () => {
      const list = await events.listNamespacedEvent({ namespace: namespace.name });
      return list.items.some((e) => e.reason === 'AlertsRejected' && e.note?.includes('labels.__proto__'))
        ? true
        : undefined;
    });
  });
});
