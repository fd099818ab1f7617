import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { kubectl, testKubeConfig } from '../support/kube.ts';
import { type KubeObject, parseManifests, renderChart } from './helm.ts';

/**
 * The chart's identities on the test API server: the operator's and the receiver's ServiceAccounts,
 * ClusterRoles, Role and bindings as `helm template` renders them (optionally with one rule removed), and
 * a kubeconfig holding a token for a ServiceAccount from the TokenRequest API, so a process runs with
 * exactly the chart's rights.
 */

const RBAC_KINDS = new Set(['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']);

export interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

/** One rule of one of the chart's ClusterRoles or Roles, named for test titles. */
export interface RuleRef {
  kind: 'ClusterRole' | 'Role';
  name: string;
  index: number;
  title: string;
  verbs: string[];
  resources: string[];
}

export interface ChartIdentity {
  release: string;
  namespace: string;
  /** The operator's ServiceAccount. */
  serviceAccount: string;
  receiverServiceAccount: string;
  leaseName: string;
  objects: KubeObject[];
}

export async function renderChartIdentity(release: string, namespace: string): Promise<ChartIdentity> {
  const objects = parseManifests(await renderChart({ release, namespace })).filter((o) =>
    RBAC_KINDS.has(o.kind),
  );
  const accounts = objects.filter((o) => o.kind === 'ServiceAccount').map((o) => o.metadata.name);
  const receiverServiceAccount = accounts.find((name) => name.endsWith('-receiver')) as string;
  const serviceAccount = accounts.find((name) => name !== receiverServiceAccount) as string;
  const leaseRule = roles(objects)
    .flatMap((role) => role.rules)
    .find((rule) => rule.resourceNames);
  return {
    release,
    namespace,
    serviceAccount,
    receiverServiceAccount,
    leaseName: leaseRule?.resourceNames?.[0] as string,
    objects,
  };
}

function roles(objects: readonly KubeObject[]): (KubeObject & { kind: RuleRef['kind']; rules: Rule[] })[] {
  return objects.filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role') as unknown as (KubeObject & {
    kind: RuleRef['kind'];
    rules: Rule[];
  })[];
}

export function ruleRefs(identity: ChartIdentity): RuleRef[] {
  return roles(identity.objects).flatMap((role) =>
    role.rules.map((rule, index) => ({
      kind: role.kind,
      name: role.metadata.name,
      index,
      verbs: rule.verbs,
      resources: rule.resources,
      title: `${role.kind} ${role.metadata.name.replace(`${identity.release}-dingtalk-operator`, '<release>')} rule ${rule.verbs.join(',')} ${rule.resources.join(',')}${rule.resourceNames ? ` (${rule.resourceNames.join(',')})` : ''}`,
    })),
  );
}

/** Applies the identity's objects, without `without` when given (apply replaces the rules list). */
export async function applyIdentity(identity: ChartIdentity, without?: RuleRef): Promise<void> {
  const objects = identity.objects.map((object) =>
    without && object.kind === without.kind && object.metadata.name === without.name
      ? {
          ...object,
          rules: (object as unknown as { rules: Rule[] }).rules.filter((_, index) => index !== without.index),
        }
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

/**
 * Writes a kubeconfig for `serviceAccount` in `namespace` (a fresh TokenRequest token, for the API server
 * or for `audiences`) and returns its path and the token.
 */
export async function serviceAccountKubeconfig(
  namespace: string,
  serviceAccount: string,
  dir: string,
  audiences?: string[],
) {
  const admin = testKubeConfig();
  const { status } = await admin.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
    name: serviceAccount,
    namespace,
    body: { spec: { expirationSeconds: 3600, ...(audiences && { audiences }) } },
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
