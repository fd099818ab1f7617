import { Writable } from 'node:stream';
import { CoreV1Api, type KubeConfig, type V1ConfigMap } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Informer } from '../../operator/runtime/informer.ts';
import { collectionPath } from '../../operator/runtime/kube-path.ts';
import { createLogger } from '../../operator/runtime/logger.ts';
import { eventually, testKubeHttp } from '../support/kube.ts';
import { type PrivateControlPlane, startPrivateControlPlane } from '../support/private-control-plane.ts';

/**
 * An API server restart in the middle of a watch: this file runs a control plane of its own (the
 * shared one must not go down under other tests), kills only its kube-apiserver, starts it again and
 * checks that the informer catches up with what changed while its watch was down.
 */

describe('informer across an API server restart', () => {
  let plane: PrivateControlPlane;
  let kubeConfig: KubeConfig;

  beforeAll(async () => {
    plane = await startPrivateControlPlane('restart');
    kubeConfig = plane.kubeConfig;
  });

  afterAll(async () => {
    await plane.down();
  });

  it('catches up with changes made while the watch was down', async () => {
    const core = kubeConfig.makeApiClient(CoreV1Api);
    const namespace = 'restart';
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    await core.createNamespacedConfigMap({
      namespace,
      body: { metadata: { name: 'kept' }, data: { v: '1' } },
    });
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'deleted-meanwhile' } } });

    const logLines: string[] = [];
    const logger = createLogger({
      level: 'info',
      destination: new Writable({
        write(chunk, _encoding, callback) {
          logLines.push(String(chunk));
          callback();
        },
      }),
    });
    const informer = new Informer<V1ConfigMap>({
      kube: testKubeHttp(plane.kubeconfigPath),
      path: collectionPath({ version: 'v1', plural: 'configmaps', namespace }),
      backoff: { initialMs: 200, maxMs: 2000 },
      logger,
    });
    informer.start();
    try {
      await informer.waitForSync();
      expect(informer.get(namespace, 'deleted-meanwhile')).toBeDefined();

      await plane.stopApiServer();
      await plane.startApiServer();
      await eventually(() => core.listNamespace({ limit: 1 }), { timeoutMs: 60_000, intervalMs: 200 });

      // Changed as soon as the API server answers; the informer is most likely still backing off.
      await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'created-meanwhile' } } });
      await core.deleteNamespacedConfigMap({ namespace, name: 'deleted-meanwhile' });
      await core.replaceNamespacedConfigMap({
        namespace,
        name: 'kept',
        body: { metadata: { name: 'kept' }, data: { v: '2' } },
      });

      await eventually(
        () =>
          informer.get(namespace, 'created-meanwhile') &&
          !informer.get(namespace, 'deleted-meanwhile') &&
          informer.get(namespace, 'kept')?.data?.v === '2'
            ? true
            : undefined,
        { timeoutMs: 60_000 },
      );
      const log = logLines.join('');
      expect(log).toMatch(/list\/watch failed; retrying|watch silent for too long|relisting/);
    } finally {
      await informer.stop();
    }
  });
});
