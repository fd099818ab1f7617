import { CoreV1Api, type V1ConfigMap } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Informer } from '../../operator/runtime/informer.ts';
import { loadKubeEndpoint } from '../../operator/runtime/kube-endpoint.ts';
import { KubeHttp } from '../../operator/runtime/kube-http.ts';
import { collectionPath } from '../../operator/runtime/kube-path.ts';
import { MetadataWatch } from '../../operator/runtime/metadata-watch.ts';
import { createTestNamespace, eventually, testKubeConfig } from '../support/kube.ts';
import { type SilenceableProxy, silenceableProxy } from '../support/silenceable-proxy.ts';

/**
 * Watches through a TCP proxy that falls silent without closing anything, as a connection a NAT or load
 * balancer dropped does. The API server speaks HTTP/2, so the informer's lists, its watch and the
 * metadata watch share that one connection: it is the client's PINGs that find it dead (their interval
 * cut to a second here, 30 s by default) and replace it, and the watches start again on the new one from
 * their last resourceVersion, missing nothing that changed meanwhile. A watch stream silent on a live
 * connection (the liveness rule of runtime/watch-stream.ts) is tested on a fake clock in
 * operator/runtime/informer.test.ts and metadata-watch.test.ts.
 */

const PING_INTERVAL_MS = 1_000;
/** Far longer than two PING intervals, far shorter than the minute the previous client took. */
const RECOVERED_WITHIN = { timeoutMs: 30_000 };

describe('Watches through a connection that falls silent', () => {
  const core = testKubeConfig().makeApiClient(CoreV1Api);
  const endpoint = loadKubeEndpoint({ kubeconfig: inject('kubeconfig') });
  let proxy: SilenceableProxy;
  let kube: KubeHttp;
  let namespace: string;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    ({ name: namespace, cleanup } = await createTestNamespace('liveness'));
    proxy = await silenceableProxy(new URL(endpoint.getCurrentCluster()?.server ?? ''));
    kube = new KubeHttp(
      {
        getCurrentCluster: () => ({ server: proxy.url }),
        applyToHTTPSOptions: (options) => endpoint.applyToHTTPSOptions(options),
      },
      { connections: null, pingIntervalMs: PING_INTERVAL_MS },
    );
  });
  afterAll(async () => {
    await kube.close();
    await proxy.close();
    await cleanup();
  });

  it('the informer watches again on a new connection and misses no change', async () => {
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'before' } } });
    const informer = new Informer<V1ConfigMap>({
      kube,
      path: collectionPath({ version: 'v1', plural: 'configmaps', namespace }),
    });
    const events: string[] = [];
    // Not kube-root-ca.crt, which the controller manager adds to every namespace at its own moment.
    informer.onEvent(({ type, name }) => name !== 'kube-root-ca.crt' && events.push(`${type} ${name}`));
    informer.start();
    try {
      await informer.waitForSync();
      const connections = proxy.connections;
      proxy.silence();

      await core.createNamespacedConfigMap({
        namespace,
        body: { metadata: { name: 'during' }, data: { a: '1' } },
      });
      await core.replaceNamespacedConfigMap({
        namespace,
        name: 'during',
        body: { metadata: { name: 'during' }, data: { a: '2' } },
      });
      await core.deleteNamespacedConfigMap({ namespace, name: 'during' });
      await core.replaceNamespacedConfigMap({
        namespace,
        name: 'before',
        body: { metadata: { name: 'before' }, data: { b: '1' } },
      });

      await eventually(
        () => (informer.get(namespace, 'before')?.data?.b === '1' ? true : undefined),
        RECOVERED_WITHIN,
      );
      // Replayed from the last resourceVersion, not relisted: a relist would not show `during` at all.
      expect(events).toEqual(['add before', 'add during', 'update during', 'delete during', 'update before']);
      expect(proxy.connections).toBeGreaterThan(connections);
      expect(proxy.silencedClosedByTarget).toBe(0);
    } finally {
      await informer.stop();
    }
  });

  it('the metadata watch watches again on a new connection and misses no change', async () => {
    const changes: string[] = [];
    const watch = new MetadataWatch({
      kube,
      path: collectionPath({ version: 'v1', plural: 'secrets', namespace }),
      onStart: () => undefined,
      onEvent: ({ type, name }) => changes.push(`${type} ${name}`),
    });
    watch.start();
    try {
      await watch.waitForEstablished();
      await core.createNamespacedSecret({ namespace, body: { metadata: { name: 'first' } } });
      await eventually(() => (changes.includes('ADDED first') ? true : undefined));
      const connections = proxy.connections;
      proxy.silence();

      await core.createNamespacedSecret({ namespace, body: { metadata: { name: 'second' } } });
      await core.deleteNamespacedSecret({ namespace, name: 'first' });

      await eventually(() => (changes.includes('DELETED first') ? true : undefined), RECOVERED_WITHIN);
      expect(changes).toEqual(['ADDED first', 'ADDED second', 'DELETED first']);
      expect(proxy.connections).toBeGreaterThan(connections);
    } finally {
      await watch.stop();
    }
  });
});
