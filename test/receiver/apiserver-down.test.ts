import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/kube.ts';
import { type PrivateControlPlane, startPrivateControlPlane } from '../support/private-control-plane.ts';
import {
  alertmanagerPayload,
  diskAlert,
  listAlarmEvents,
  postJson,
  serviceAccountToken,
  startReceiver,
} from './support.ts';

/**
 * The receiver while its API server is down: on a control plane of its own (the shared one must stay up
 * for other tests), kill only kube-apiserver, post, start it again and retry, as Alertmanager would.
 */

describe('receiver while the API server is down', () => {
  let plane: PrivateControlPlane;
  let kubeConfig: KubeConfig;

  beforeAll(async () => {
    plane = await startPrivateControlPlane('receiver-down', { installCrds: true });
    kubeConfig = plane.kubeConfig;
  });

  afterAll(async () => {
    await plane.down();
  });

  it('answers 503 with Retry-After and accepts nothing; the retry succeeds once the API server is back', async () => {
    const core = kubeConfig.makeApiClient(CoreV1Api);
    const namespace = 'alerts';
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    const warmToken = await serviceAccountToken(kubeConfig, namespace, 'alertmanager', { mayCreate: true });
    const coldToken = await serviceAccountToken(kubeConfig, namespace, 'second-alertmanager', {
      mayCreate: true,
    });
    const receiver = await startReceiver(kubeConfig, {
      defaultNamespace: namespace,
      kubeRequestTimeoutMs: 3_000,
    });
    try {
      const before = await postJson(
        `${receiver.url}/api/v1/alertmanager`,
        alertmanagerPayload([diskAlert(1)]),
        warmToken,
      );
      expect(before.status).toBe(202);

      await plane.stopApiServer();

      const payload = alertmanagerPayload([diskAlert(2), diskAlert(3), diskAlert(4)]);
      // Authorised from the cache: the write itself fails.
      const writeFails = await postJson(`${receiver.url}/api/v1/alertmanager`, payload, warmToken);
      expect(writeFails.status).toBe(503);
      expect(writeFails.headers.get('retry-after')).toBe('5');
      expect(writeFails.json.code).toBe('RCV_ERR_KUBE_UNAVAILABLE');
      // Not yet reviewed: the TokenReview fails.
      const reviewFails = await postJson(`${receiver.url}/api/v1/alertmanager`, payload, coldToken);
      expect(reviewFails.status).toBe(503);
      expect(reviewFails.headers.get('retry-after')).toBe('5');

      await plane.startApiServer();
      await eventually(() => core.listNamespace({ limit: 1 }), { timeoutMs: 60_000, intervalMs: 200 });

      // Alertmanager retries a 503; the first reviews after the restart may still outlast the 3 s timeout.
      await eventually(
        async () => {
          const retried = await postJson(`${receiver.url}/api/v1/alertmanager`, payload, coldToken);
          return retried.status === 202 ? retried : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 1_000 },
      );
      const names = (await listAlarmEvents(kubeConfig, namespace)).map((e) => e.metadata.name);
      expect(names).toEqual([1, 2, 3, 4].map((node) => `fp-000000000000000${node}-1777622400123`));
      expect(receiver.logLines.join('')).not.toContain(warmToken);
    } finally {
      await receiver.close();
    }
  });
});
