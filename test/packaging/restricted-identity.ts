import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { kubectl, testKubeConfig } from '../support/kube.ts';
import { type KubeObject, parseManifests, renderChart } from './helm.ts';

/**
 * The chart's identity on the test API server: its ServiceAccount, ClusterRole, Role and bindings as
 * `helm template` renders them (optionally with one rule removed), and a kubeconfig holding a token
 * for that ServiceAccount from the TokenRequest API, so a process runs with exactly the chart's rights.
 */

const RBAC_KINDS = new Set(['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']);

export interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

/** One rule of the chart's ClusterRole or leader-election Role, named for test titles. */
export interface RuleRef {
  kind: 'ClusterRole' | 'Role';
  index: number;
  title: string;
}

export interface ChartIdentity {
  release: string;
  namespace: string;
  serviceAccount: string;
  leaseName: string;
  objects: KubeObject[];
}

export async function renderChartIdentity(release: string, namespace: string): Promise<ChartIdentity> {
  const objects = parseManifests(await renderChart({ release, namespace })).filter((o) =>
    RBAC_KINDS.has(o.kind),
  );
  const serviceAccount = objects.find((o) => o.kind === 'ServiceAccount')?.metadata.name as string;
  const leaseRule = rulesOf(objects, 'Role').find((rule) => rule.resourceNames);
  return { release, namespace, serviceAccount, leaseName: leaseRule?.resourceNames?.[0] as string, objects };
}

function rulesOf(objects: readonly KubeObject[], kind: RuleRef['kind']): Rule[] {
  return (objects.find((o) => o.kind === kind) as unknown as { rules: Rule[] }).rules;
}

export function ruleRefs(identity: ChartIdentity): RuleRef[] {
  return (['ClusterRole', 'Role'] as const).flatMap((kind) =>
    rulesOf(identity.objects, kind).map((rule, index) => ({
      kind,
      index,
      title: `${kind} rule ${rule.verbs.join(',')} ${rule.resources.join(',')}${rule.resourceNames ? ` (${rule.resourceNames.join(',')})` : ''}`,
    })),
  );
}

/** Applies the identity's objects, without `without` when given (apply replaces the rules list). */
export async function applyIdentity(identity: ChartIdentity, without?: RuleRef): Promise<void> {
  const objects = identity.objects.map((object) =>
    without && object.kind === without.kind
      ? { ...object, rules: rulesOf([object], without.kind).filter((_, index) => index !== without.index) }
      : object,
  );
  await kubectl(['apply', '-f', '-'], objects.map((o) => `---\n${stringify(o)}`).join(''));
}

export async function deleteClusterScoped(identity: ChartIdentity): Promise<void> {
  await kubectl([
    'delete',
    'clusterrole,clusterrolebinding',
    '-l',
    `app.kubernetes.io/instance=${identity.release}`,
  ]);
}

/** Writes a kubeconfig for `serviceAccount` in `namespace` (a fresh TokenRequest token) and returns its path. */
export async function serviceAccountKubeconfig(namespace: string, serviceAccount: string, dir: string) {
  const admin = testKubeConfig();
  const { status } = await admin.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
    name: serviceAccount,
    namespace,
    body: { spec: { expirationSeconds: 3600 } },
  });
  const cluster = admin.getCurrentCluster();
  if (!cluster || !status?.token) throw new Error('no cluster or no token');
  const file = path.join(dir, `${namespace}-${serviceAccount}.kubeconfig`);
  writeFileSync(
    file,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'test',
          cluster: {
            server: cluster.server,
            ...(cluster.caData && { 'certificate-authority-data': cluster.caData }),
            ...(cluster.caFile && { 'certificate-authority': cluster.caFile }),
          },
        },
      ],
      users: [{ name: serviceAccount, user: { token: status.token } }],
      contexts: [{ name: serviceAccount, context: { cluster: 'test', user: serviceAccount, namespace } }],
      'current-context': serviceAccount,
    }),
    { mode: 0o600 },
  );
  return { file, token: status.token };
}
