import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { INSTALL_NAMESPACE, installYaml, networkPolicyYaml } from '../../charts/install-manifests/install.ts';
import { type KubeObject, objectKey, parseManifests, renderChart, repoRoot } from './helm.ts';

// Labels only Helm writes: they name the chart version and Helm as the manager, which a plain
// `kubectl apply` install is not. Nothing else is ignored.
const HELM_ONLY_LABELS = ['helm.sh/chart', 'app.kubernetes.io/managed-by'];

function withoutHelmLabels(object: KubeObject): KubeObject {
  const labels = Object.fromEntries(
    Object.entries(object.metadata.labels ?? {}).filter(([key]) => !HELM_ONLY_LABELS.includes(key)),
  );
  return { ...object, metadata: { ...object.metadata, labels } };
}

function byKey(objects: readonly KubeObject[]): Map<string, KubeObject> {
  return new Map(objects.map((object) => [objectKey(object), withoutHelmLabels(object)]));
}

describe('dist/install.yaml', () => {
  it('is what charts/install-manifests synthesizes now (run `npm run manifests` when not)', () => {
    expect(readFileSync(path.join(repoRoot, 'dist/install.yaml'), 'utf8')).toBe(installYaml());
  });

  it('holds every object `helm template` renders with default values, identical but for Helm-only labels', async () => {
    const chart = byKey(
      parseManifests(
        await renderChart({ release: 'dingtalk-operator', namespace: INSTALL_NAMESPACE, includeCrds: true }),
      ),
    );
    const plain = byKey(parseManifests(installYaml()));
    expect([...plain.keys()].filter((key) => !chart.has(key))).toEqual([`Namespace//${INSTALL_NAMESPACE}`]);
    expect([...chart.keys()].filter((key) => !plain.has(key))).toEqual([]);
    for (const [key, object] of chart) expect(plain.get(key), key).toEqual(object);
  });
});

describe('dist/networkpolicy.yaml', () => {
  it('is what charts/install-manifests synthesizes now (run `npm run manifests` when not)', () => {
    expect(readFileSync(path.join(repoRoot, 'dist/networkpolicy.yaml'), 'utf8')).toBe(networkPolicyYaml());
  });

  it('holds the NetworkPolicies the chart renders with networkPolicy.enabled=true, and nothing else', async () => {
    const chart = byKey(
      parseManifests(
        await renderChart({
          release: 'dingtalk-operator',
          namespace: INSTALL_NAMESPACE,
          set: ['networkPolicy.enabled=true'],
        }),
      ).filter((object) => object.kind === 'NetworkPolicy'),
    );
    const plain = byKey(parseManifests(networkPolicyYaml()));
    expect([...plain.keys()].sort()).toEqual([...chart.keys()].sort());
    expect(plain.size).toBe(2);
    for (const [key, object] of chart) expect(plain.get(key), key).toEqual(object);
  });

  it('is not in dist/install.yaml: the chart renders no NetworkPolicy by default', async () => {
    const chart = parseManifests(
      await renderChart({ release: 'dingtalk-operator', namespace: INSTALL_NAMESPACE }),
    );
    expect(chart.filter((object) => object.kind === 'NetworkPolicy')).toEqual([]);
    expect(parseManifests(installYaml()).filter((object) => object.kind === 'NetworkPolicy')).toEqual([]);
  });
});
