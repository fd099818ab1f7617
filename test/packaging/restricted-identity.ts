import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { kubectl, testKubeConfig } from '../support/kube.ts';
import { type KubeObject, parseManifests, renderChart } from './helm.ts';

/**
 * The chart's identities on the test API server: the operator's and the receiver's ServiceAccounts,
 * ClusterRoles, Role and bindings as `helm template` renders them, copies of them without one rule for a
 * throwaway ServiceAccount, and a kubeconfig holding a token for a ServiceAccount from the TokenRequest
 * API, so a process runs with exactly the chart's rights.
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
  rule: Rule;
  /** A Role's namespace, where its rule applies; a ClusterRole's rules apply in every namespace. */
  namespace?: string;
  /** The user the role is bound to: `system:serviceaccount:<namespace>:<name>`. */
  user: string;
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

type RoleObject = KubeObject & { kind: RuleRef['kind']; rules: Rule[] };
type BindingObject = KubeObject & {
  roleRef: { kind: string; name: string; apiGroup: string };
  subjects: { kind: string; name: string; namespace?: string }[];
};

/** `set`: chart values other than the defaults, as `helm template --set` takes them. */
export async function renderChartIdentity(
  release: string,
  namespace: string,
  set: string[] = [],
): Promise<ChartIdentity> {
  const objects = parseManifests(await renderChart({ release, namespace, set })).filter((o) =>
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

export const serviceAccountUser = (namespace: string, name: string) =>
  `system:serviceaccount:${namespace}:${name}`;

function roles(objects: readonly KubeObject[]): RoleObject[] {
  return objects.filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role') as RoleObject[];
}

function bindingOf(objects: readonly KubeObject[], role: RoleObject): BindingObject {
  const binding = (objects as BindingObject[]).find(
    (o) =>
      (o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding') &&
      o.roleRef?.kind === role.kind &&
      o.roleRef.name === role.metadata.name &&
      o.metadata.namespace === role.metadata.namespace,
  );
  if (binding?.subjects.length !== 1)
    throw new Error(`${role.kind} ${role.metadata.name} is not bound to one subject`);
  return binding;
}

export function ruleRefs(identity: ChartIdentity): RuleRef[] {
  return roles(identity.objects).flatMap((role) => {
    const subject = bindingOf(identity.objects, role).subjects[0] as { name: string; namespace?: string };
    return role.rules.map((rule, index) => ({
      kind: role.kind,
      name: role.metadata.name,
      index,
      rule,
      namespace: role.kind === 'Role' ? role.metadata.namespace : undefined,
      user: serviceAccountUser(subject.namespace ?? identity.namespace, subject.name),
      title: `${role.kind} ${role.metadata.name.replace(`${identity.release}-dingtalk-operator`, '<release>')} rule ${rule.verbs.join(',')} ${rule.resources.join(',')}${rule.resourceNames ? ` (${rule.resourceNames.join(',')})` : ''}`,
    }));
  });
}

/** A request as RBAC decides on it: who asked, and the verb and object (see audit-log.ts). */
export interface ResourceRequest {
  user: string;
  verb: string;
  apiGroup: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

/** Whether `ref`'s rule allows `request`, as the API server's RBAC authorizer matches a rule. */
export function covers(ref: RuleRef, request: ResourceRequest): boolean {
  const { rule } = ref;
  const resource = request.subresource ? `${request.resource}/${request.subresource}` : request.resource;
  const any = (list: string[] | undefined, value: string) => !!list?.some((v) => v === '*' || v === value);
  return (
    request.user === ref.user &&
    (ref.namespace === undefined || ref.namespace === request.namespace) &&
    any(rule.verbs, request.verb) &&
    any(rule.apiGroups, request.apiGroup) &&
    (any(rule.resources, resource) ||
      (request.subresource !== undefined && rule.resources.includes(`*/${request.subresource}`))) &&
    (!rule.resourceNames?.length || (request.name !== undefined && rule.resourceNames.includes(request.name)))
  );
}

/** Applies the identity's objects as the chart renders them. */
export async function applyIdentity(identity: ChartIdentity): Promise<void> {
  await apply(identity.objects);
}

/**
 * Applies, for a new ServiceAccount `account` in the identity's namespace, a copy of every role bound to
 * the owner of `without` (bound to `account` instead, under names ending in `-<account>`), without that
 * rule. Returns the copy's user. The chart's own roles and bindings stay as they are.
 */
export async function applyCopyWithout(
  identity: ChartIdentity,
  without: RuleRef,
  account: string,
): Promise<string> {
  const copies = roles(identity.objects).flatMap((role) => {
    const binding = bindingOf(identity.objects, role);
    const subject = binding.subjects[0] as { name: string; namespace?: string };
    if (serviceAccountUser(subject.namespace ?? identity.namespace, subject.name) !== without.user) return [];
    const renamed = (object: KubeObject) => ({
      ...object,
      metadata: { ...object.metadata, name: `${object.metadata.name}-${account}` },
    });
    const isWithout = role.kind === without.kind && role.metadata.name === without.name;
    return [
      { ...renamed(role), rules: role.rules.filter((_, index) => !isWithout || index !== without.index) },
      {
        ...renamed(binding),
        roleRef: { ...binding.roleRef, name: `${role.metadata.name}-${account}` },
        subjects: [{ kind: 'ServiceAccount', name: account, namespace: identity.namespace }],
      },
    ];
  });
  await apply([
    {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: account, namespace: identity.namespace },
    },
    ...copies,
  ]);
  return serviceAccountUser(identity.namespace, account);
}

async function apply(objects: readonly KubeObject[]): Promise<void> {
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
