import {
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  Watch,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestNamespace, eventually, testKubeConfig } from '../support/kube.ts';

// Proves the control plane is a real one: CRD establishment, watches, the status subresource and
// garbage collection all come from kube-apiserver, etcd and kube-controller-manager.
const group = 'probe.dingtalk.alarming.io';
const crdName = `gadgets.${group}`;

describe('local control plane', () => {
  const kc = testKubeConfig();
  const crds = kc.makeApiClient(ApiextensionsV1Api);
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  let ns: Awaited<ReturnType<typeof createTestNamespace>>;

  beforeAll(async () => {
    ns = await createTestNamespace('control-plane');
    await crds.createCustomResourceDefinition({
      body: {
        metadata: { name: crdName },
        spec: {
          group,
          scope: 'Namespaced',
          names: { plural: 'gadgets', singular: 'gadget', kind: 'Gadget' },
          versions: [
            {
              name: 'v1',
              served: true,
              storage: true,
              subresources: { status: {} },
              schema: {
                openAPIV3Schema: {
                  type: 'object',
                  properties: {
                    spec: { type: 'object', properties: { size: { type: 'integer' } } },
                    status: { type: 'object', properties: { seen: { type: 'boolean' } } },
                  },
                },
              },
            },
          ],
        },
      },
    });
  });

  afterAll(async () => {
    await crds.deleteCustomResourceDefinition({ name: crdName }).catch(() => undefined);
    await ns.cleanup();
  });

  it('establishes a CRD, serves its objects over a watch and keeps status apart from spec', async () => {
    await eventually(async () => {
      const crd = await crds.readCustomResourceDefinition({ name: crdName });
      return (
        crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') || undefined
      );
    });

    const ref = { group, version: 'v1', namespace: ns.name, plural: 'gadgets' };
    // Established can precede the moment the new resource is served; a watch opened earlier ends with 404.
    await eventually(() => custom.listNamespacedCustomObject(ref).then(() => true));

    const seen: string[] = [];
    const watch = await new Watch(kc).watch(
      `/apis/${group}/v1/namespaces/${ns.name}/gadgets`,
      {},
      (phase, obj: { metadata: { name: string } }) => seen.push(`${phase} ${obj.metadata.name}`),
      () => undefined,
    );
    try {
      await custom.createNamespacedCustomObject({
        ...ref,
        body: { apiVersion: `${group}/v1`, kind: 'Gadget', metadata: { name: 'g1' }, spec: { size: 3 } },
      });
      await eventually(() => (seen.includes('ADDED g1') ? true : undefined));

      await custom.patchNamespacedCustomObjectStatus(
        { ...ref, name: 'g1', body: { status: { seen: true }, spec: { size: 99 } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      const gadget = await custom.getNamespacedCustomObject({ ...ref, name: 'g1' });
      expect(gadget.status).toEqual({ seen: true });
      expect(gadget.spec).toEqual({ size: 3 });
      await eventually(() => (seen.includes('MODIFIED g1') ? true : undefined));
    } finally {
      watch.abort();
    }
  });

  it('garbage-collects a dependent once its owner is deleted', async () => {
    const owner = await core.createNamespacedConfigMap({
      namespace: ns.name,
      body: { metadata: { name: 'owner' }, data: { role: 'owner' } },
    });
    await core.createNamespacedConfigMap({
      namespace: ns.name,
      body: {
        metadata: {
          name: 'dependent',
          ownerReferences: [
            { apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata?.uid as string },
          ],
        },
      },
    });
    await core.deleteNamespacedConfigMap({ namespace: ns.name, name: 'owner' });
    await eventually(
      () =>
        core.readNamespacedConfigMap({ namespace: ns.name, name: 'dependent' }).then(
          () => undefined,
          (err: { code?: number }) => (err.code === 404 ? true : undefined),
        ),
      { timeoutMs: 60_000 },
    );
  });

  it('creates the default ServiceAccount and issues tokens for it', async () => {
    const sa = await eventually(() =>
      core.readNamespacedServiceAccount({ namespace: ns.name, name: 'default' }).catch(() => undefined),
    );
    expect(sa.metadata?.name).toBe('default');
    const token = await core.createNamespacedServiceAccountToken({
      namespace: ns.name,
      name: 'default',
      body: { spec: { audiences: [], expirationSeconds: 600 } },
    });
    expect(token.status?.token).toMatch(/^ey/);
  });
});
