import { CoreV1Api, type V1ConfigMap } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Informer, type InformerEvent } from '../../operator/runtime/informer.ts';
import { collectionPath } from '../../operator/runtime/kube-path.ts';
import { createTestNamespace, eventually, testKubeConfig, testKubeHttp } from '../support/kube.ts';

describe('Informer against the API server', () => {
  const kubeConfig = testKubeConfig();
  const kube = testKubeHttp();
  const core = kubeConfig.makeApiClient(CoreV1Api);
  let namespace: string;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    ({ name: namespace, cleanup } = await createTestNamespace('informer'));
  });
  afterAll(async () => {
    await cleanup();
  });

  const configMap = (name: string, data: Record<string, string> = {}, labels: Record<string, string> = {}) =>
    core.createNamespacedConfigMap({ namespace, body: { metadata: { name, labels }, data } });

  it('lists in pages, then follows adds, updates and deletes by key', async () => {
    for (let i = 0; i < 5; i++) await configMap(`before-${i}`);
    const informer = new Informer<V1ConfigMap>({
      kube,
      path: collectionPath({ version: 'v1', plural: 'configmaps', namespace }),
      pageSize: 2,
    });
    const events: Array<Pick<InformerEvent<V1ConfigMap>, 'type' | 'key'>> = [];
    informer.onEvent(({ type, key }) => events.push({ type, key }));
    informer.start();
    try {
      await informer.waitForSync();
      expect(informer.hasSynced()).toBe(true);
      expect(informer.list(namespace).filter((cm) => cm.metadata?.name?.startsWith('before-'))).toHaveLength(
        5,
      );

      await configMap('live', { a: '1' });
      await eventually(() => informer.get(namespace, 'live'));
      await core.patchNamespacedConfigMap({
        namespace,
        name: 'live',
        body: [{ op: 'add', path: '/data/b', value: '2' }],
      });
      await eventually(() => (informer.get(namespace, 'live')?.data?.b === '2' ? true : undefined));
      await core.deleteNamespacedConfigMap({ namespace, name: 'live' });
      await eventually(() => (informer.get(namespace, 'live') ? undefined : true));

      const live = events.filter((event) => event.key === `${namespace}/live`).map((event) => event.type);
      expect(live).toEqual(['add', 'update', 'delete']);
      expect(
        events.filter((event) => event.key.includes('/before-')).every((event) => event.type === 'add'),
      ).toBe(true);
    } finally {
      await informer.stop();
    }
  });

  it('caches objects without managedFields and the last-applied annotation, keeping other annotations', async () => {
    const lastApplied = 'kubectl.kubernetes.io/last-applied-configuration';
    await core.createNamespacedConfigMap({
      namespace,
      body: {
        metadata: { name: 'trimmed', annotations: { [lastApplied]: '{"big":"copy"}', team: 'ops' } },
        data: { a: '1' },
      },
    });
    const informer = new Informer<V1ConfigMap>({
      kube,
      path: collectionPath({ version: 'v1', plural: 'configmaps', namespace }),
    });
    informer.start();
    try {
      await informer.waitForSync();
      const listed = informer.get(namespace, 'trimmed');
      expect(listed?.data?.a).toBe('1');
      expect(listed?.metadata?.managedFields).toBeUndefined();
      expect(listed?.metadata?.annotations).toEqual({ team: 'ops' });

      await core.patchNamespacedConfigMap({
        namespace,
        name: 'trimmed',
        body: [{ op: 'add', path: '/data/b', value: '2' }],
      });
      const watched = await eventually(() => {
        const cm = informer.get(namespace, 'trimmed');
        return cm?.data?.b === '2' ? cm : undefined;
      });
      expect(watched.metadata?.managedFields).toBeUndefined();
      expect(watched.metadata?.annotations).toEqual({ team: 'ops' });
      const stored = await core.readNamespacedConfigMap({ namespace, name: 'trimmed' });
      expect(stored.metadata?.managedFields?.length).toBeGreaterThan(0);
    } finally {
      await informer.stop();
    }
  });

  it('hands out frozen objects that cannot corrupt the cache', async () => {
    await configMap('frozen', { a: '1' });
    const informer = new Informer<V1ConfigMap>({
      kube,
      path: collectionPath({ version: 'v1', plural: 'configmaps', namespace }),
    });
    informer.start();
    try {
      await informer.waitForSync();
      const cached = informer.get(namespace, 'frozen');
      expect(cached?.kind).toBe('ConfigMap');
      expect(Object.isFrozen(cached?.data)).toBe(true);
      expect(() => {
        (cached?.data as Record<string, string>).a = 'changed';
      }).toThrow(TypeError);
      const copy = structuredClone(cached) as V1ConfigMap;
      copy.data = { a: 'mine' };
      expect(informer.get(namespace, 'frozen')?.data?.a).toBe('1');
    } finally {
      await informer.stop();
    }
  });

  it('applies a label selector', async () => {
    await configMap('picked', {}, { pick: 'yes' });
    await configMap('skipped', {}, { pick: 'no' });
    const informer = new Informer<V1ConfigMap>({
      kube,
      path: collectionPath({ version: 'v1', plural: 'configmaps', namespace }),
      labelSelector: 'pick=yes',
    });
    informer.start();
    try {
      await informer.waitForSync();
      expect(informer.list(namespace).map((cm) => cm.metadata?.name)).toEqual(['picked']);
    } finally {
      await informer.stop();
    }
  });

  it('stops quietly and can be stopped before it synced', async () => {
    const informer = new Informer<V1ConfigMap>({
      kube,
      path: collectionPath({ version: 'v1', plural: 'configmaps', namespace }),
    });
    informer.start();
    await informer.stop();
    expect(informer.lastError).toBeUndefined();
  });
});
