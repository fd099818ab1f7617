import { CoreV1Api, type V1ConfigMap, type V1Secret } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Controller, referencingPrimaries } from '../../operator/runtime/controller.ts';
import { HealthServer } from '../../operator/runtime/health.ts';
import { Informer } from '../../operator/runtime/informer.ts';
import { collectionPath } from '../../operator/runtime/kube-path.ts';
import { OperatorMetrics } from '../../operator/runtime/metrics.ts';
import { createTestNamespace, eventually, testKubeConfig, testKubeHttp } from '../support/kube.ts';

/**
 * ConfigMaps stand in for a primary kind that references Secrets by name (data.secretName), the
 * shape the DingTalkService controller needs: a Secret change reconciles its referrers.
 */
describe('controller wiring against the API server', () => {
  const kubeConfig = testKubeConfig();
  const kube = testKubeHttp();
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const logger = pino({ level: 'silent' });
  let namespace: string;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    ({ name: namespace, cleanup } = await createTestNamespace('controller'));
  });
  afterAll(async () => {
    await cleanup();
  });

  it('reconciles primaries, re-reconciles the ones referencing a Secret that changed, and reports readiness', async () => {
    for (const [name, secretName] of [
      ['uses-s1', 's1'],
      ['also-uses-s1', 's1'],
      ['uses-s2', 's2'],
    ]) {
      await core.createNamespacedConfigMap({ namespace, body: { metadata: { name }, data: { secretName } } });
    }
    const primaries = new Informer<V1ConfigMap>({
      kube,
      path: collectionPath({ version: 'v1', plural: 'configmaps', namespace }),
    });
    const secrets = new Informer<V1Secret>({
      kube,
      path: collectionPath({ version: 'v1', plural: 'secrets', namespace }),
    });
    const reconciled: string[] = [];
    let failOnce = true;
    const metrics = new OperatorMetrics({ processMetrics: false });
    const controller = new Controller({
      name: 'widgets',
      logger,
      metrics,
      workers: 2,
      queue: { baseDelayMs: 50 },
      reconcile: async (key) => {
        if (key.endsWith('/uses-s2') && failOnce) {
          failOnce = false;
          throw new Error('transient');
        }
        reconciled.push(key);
        return undefined;
      },
    })
      .watch(primaries)
      .watch(secrets, {
        map: referencingPrimaries<V1ConfigMap, V1Secret>(
          primaries,
          (cm, secret) => cm.data?.secretName === secret,
        ),
      });

    const health = new HealthServer({ host: '127.0.0.1', port: 0, metrics, logger });
    health.addReadinessCheck('configmaps', () => primaries.hasSynced() || 'cache not synced');
    health.addReadinessCheck('secrets', () => secrets.hasSynced() || 'cache not synced');
    const { port } = await health.listen();
    const get = (path: string) => fetch(`http://127.0.0.1:${port}${path}`);

    try {
      expect((await get('/healthz')).status).toBe(200);
      const notReady = await get('/readyz');
      expect(notReady.status).toBe(503);
      expect(await notReady.json()).toMatchObject({
        failing: ['configmaps: cache not synced', 'secrets: cache not synced'],
      });

      primaries.start();
      secrets.start();
      await controller.start();
      expect((await get('/readyz')).status).toBe(200);

      const ns = (name: string) => `${namespace}/${name}`;
      await eventually(() =>
        ['uses-s1', 'also-uses-s1', 'uses-s2'].every((name) => reconciled.includes(ns(name)))
          ? true
          : undefined,
      );

      reconciled.length = 0;
      await core.createNamespacedSecret({
        namespace,
        body: { metadata: { name: 's1' }, stringData: { token: 'x' } },
      });
      await eventually(() =>
        reconciled.includes(ns('uses-s1')) && reconciled.includes(ns('also-uses-s1')) ? true : undefined,
      );
      expect(reconciled).not.toContain(ns('uses-s2'));

      const text = await (await get('/metrics')).text();
      expect(text).toMatch(/dingtalk_operator_reconcile_total\{controller="widgets",result="success"\} \d+/);
      expect(text).toMatch(/dingtalk_operator_reconcile_total\{controller="widgets",result="error"\} 1/);
      expect(text).toContain('dingtalk_operator_workqueue_depth{controller="widgets"} 0');
    } finally {
      await controller.stop(1000);
      await Promise.all([primaries.stop(), secrets.stop()]);
      await health.close();
    }
  });

  it('reconciles objects its informer listed before the controller subscribed', async () => {
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'listed-early' } } });
    const informer = new Informer<V1ConfigMap>({
      kube,
      path: collectionPath({ version: 'v1', plural: 'configmaps', namespace }),
    });
    informer.start();
    await informer.waitForSync();
    const reconciled: string[] = [];
    // Built only now, as a replica builds its controllers once it becomes leader.
    const controller = new Controller({
      name: 'late',
      logger,
      reconcile: async (key) => {
        reconciled.push(key);
        return undefined;
      },
    }).watch(informer);
    try {
      await controller.start();
      await eventually(() => (reconciled.includes(`${namespace}/listed-early`) ? true : undefined));
    } finally {
      await controller.stop(1000);
      await informer.stop();
    }
  });
});
