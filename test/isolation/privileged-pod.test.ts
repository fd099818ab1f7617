import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { testKubeConfig } from '../support/kube.ts';

type Manifest = {
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
};
const manifests = parseAllDocuments(
  readFileSync(new URL('../../dist/install.yaml', import.meta.url), 'utf8'),
).map((doc) => doc.toJSON() as Manifest);
const core = testKubeConfig().makeApiClient(CoreV1Api);
const namespace = `install-${randomBytes(4).toString('hex')}`;

afterAll(async () => {
  await core.deleteNamespace({ name: namespace }).catch(() => undefined);
});

describe('privileged pod in the install namespace', () => {
  it("is refused by Pod Security admission, while the operator's own pod is admitted", async () => {
    const installed = manifests.find((m) => m.kind === 'Namespace');
    expect(installed?.metadata.labels).toMatchObject({ 'pod-security.kubernetes.io/enforce': 'restricted' });
    // The same Namespace under a name of this test's own.
    await core.createNamespace({
      body: {
        metadata: {
          name: namespace,
          labels: { ...installed?.metadata.labels, 'dingtalk-operator.test/run': 'true' },
        },
      },
    });

    const deployment = manifests.find((m) => m.kind === 'Deployment') as unknown as {
      spec: { template: { spec: V1Pod['spec'] } };
    };
    const own: V1Pod = { metadata: { name: 'operator' }, spec: deployment.spec.template.spec };
    own.spec = { ...own.spec, serviceAccountName: 'default' } as V1Pod['spec'];
    await core.createNamespacedPod({ namespace, body: own, dryRun: 'All' });

    const privileged: V1Pod = {
      metadata: { name: 'escape' },
      spec: {
        hostPID: true,
        containers: [
          {
            name: 'shell',
            image: 'busybox',
            securityContext: { privileged: true },
            command: ['nsenter', '-t', '1', '-a'],
          },
        ],
      },
    };
    await expect(
      core.createNamespacedPod({ namespace, body: privileged, dryRun: 'All' }),
    ).rejects.toMatchObject({
      code: 403,
    });
  });
});
