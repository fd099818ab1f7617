import { ApiObject, App, Chart } from 'cdk8s';
import { k8s } from 'cdk8s-plus-33';
import type { Construct } from 'constructs';
import { customResourceDefinitions } from '../../operator/api/crds.ts';
import { type ChartMetadata, type ChartValues, chartDefaults } from './values.ts';

/**
 * The install as plain manifests (dist/install.yaml): what `helm template` renders from the chart with
 * default values into the `dingtalk-operator` namespace, plus that Namespace and the CRDs.
 *
 * It uses cdk8s's generated Kube* constructs rather than cdk8s-plus's higher-level ones, because those add
 * generated selector labels, a startup probe and hashed names that would make it differ from the chart.
 * test/packaging/install-manifests.test.ts fails when the two disagree on any object.
 */

export const INSTALL_NAMESPACE = 'dingtalk-operator';
const NAME = 'dingtalk-operator';

const SELECTOR_LABELS = { 'app.kubernetes.io/name': NAME, 'app.kubernetes.io/instance': NAME };
/** Mirrors the chart's "dingtalk-operator.receiverSelectorLabels". */
const RECEIVER_SELECTOR_LABELS = {
  'app.kubernetes.io/name': `${NAME}-receiver`,
  'app.kubernetes.io/instance': NAME,
};
const RECEIVER = `${NAME}-receiver`;
const COMPONENT_RECEIVER = { 'app.kubernetes.io/component': 'receiver' };

function labels(chart: ChartMetadata) {
  return {
    ...SELECTOR_LABELS,
    'app.kubernetes.io/version': chart.appVersion,
    'app.kubernetes.io/part-of': 'dingtalk-operator',
  };
}

type PolicyRule = k8s.PolicyRule;

/** Mirrors the chart's "dingtalk-operator.namespacedRules". */
const NAMESPACED_RULES: PolicyRule[] = [
  {
    apiGroups: ['dingtalk.alarming.io'],
    resources: ['dingtalkservices', 'alarmrules', 'alarmevents'],
    verbs: ['get', 'list', 'watch'],
  },
  {
    apiGroups: ['dingtalk.alarming.io'],
    resources: ['dingtalkservices/status', 'alarmrules/status', 'alarmevents/status'],
    verbs: ['patch', 'update'],
  },
  { apiGroups: ['dingtalk.alarming.io'], resources: ['alarmevents'], verbs: ['delete'] },
  { apiGroups: [''], resources: ['secrets', 'configmaps'], verbs: ['get'] },
  { apiGroups: [''], resources: ['secrets', 'configmaps'], verbs: ['watch'] },
  { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] },
];

/** Mirrors the chart's "dingtalk-operator.receiverClusterRules" and "receiverNamespacedRules". */
const RECEIVER_RULES: PolicyRule[] = [
  { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
  { apiGroups: ['authorization.k8s.io'], resources: ['subjectaccessreviews'], verbs: ['create'] },
  { apiGroups: ['dingtalk.alarming.io'], resources: ['alarmevents'], verbs: ['create', 'patch'] },
  { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['create'] },
];

const SUBJECT = { kind: 'ServiceAccount', name: NAME, namespace: INSTALL_NAMESPACE };
const RECEIVER_SUBJECT = { kind: 'ServiceAccount', name: RECEIVER, namespace: INSTALL_NAMESPACE };

function clusterScoped(scope: Construct, chart: ChartMetadata) {
  new k8s.KubeNamespace(scope, 'namespace', {
    metadata: {
      name: INSTALL_NAMESPACE,
      labels: {
        'app.kubernetes.io/part-of': 'dingtalk-operator',
        // Nothing in the namespace needs more than Pod Security's restricted profile, so nobody may run more there.
        'pod-security.kubernetes.io/enforce': 'restricted',
      },
    },
  });
  for (const crd of customResourceDefinitions()) new ApiObject(scope, crd.metadata.name, crd);
  new k8s.KubeClusterRole(scope, 'cluster-role', {
    metadata: { name: NAME, labels: labels(chart) },
    rules: NAMESPACED_RULES,
  });
  new k8s.KubeClusterRoleBinding(scope, 'cluster-role-binding', {
    metadata: { name: NAME, labels: labels(chart) },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: NAME },
    subjects: [SUBJECT],
  });
  new k8s.KubeClusterRole(scope, 'receiver-cluster-role', {
    metadata: { name: RECEIVER, labels: { ...labels(chart), ...COMPONENT_RECEIVER } },
    rules: RECEIVER_RULES,
  });
  new k8s.KubeClusterRoleBinding(scope, 'receiver-cluster-role-binding', {
    metadata: { name: RECEIVER, labels: { ...labels(chart), ...COMPONENT_RECEIVER } },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: RECEIVER },
    subjects: [RECEIVER_SUBJECT],
  });
}

function resources(given: ChartValues['operator']['resources']): k8s.ResourceRequirements {
  const quantities = (map: Record<string, string> | undefined) =>
    map &&
    Object.fromEntries(Object.entries(map).map(([key, value]) => [key, k8s.Quantity.fromString(value)]));
  return { requests: quantities(given.requests), limits: quantities(given.limits) };
}

const POD_ENV: k8s.EnvVar[] = [
  { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
  { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
];

const CONTAINER_SECURITY: k8s.SecurityContext = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] },
};

function probes(port: string) {
  const get = (path: string) => ({ path, port: k8s.IntOrString.fromString(port) });
  return {
    livenessProbe: { httpGet: get('/healthz'), periodSeconds: 10, failureThreshold: 3 },
    readinessProbe: { httpGet: get('/readyz'), periodSeconds: 5, failureThreshold: 3 },
  };
}

function deployment(scope: Construct, values: ChartValues, chart: ChartMetadata) {
  const image = `${values.image.repository}:${values.image.tag || chart.appVersion}`;
  const { operator } = values;
  const tmp = [{ name: 'tmp', mountPath: '/tmp' }];
  new k8s.KubeDeployment(scope, 'deployment', {
    metadata: { name: NAME, labels: labels(chart) },
    spec: {
      replicas: values.replicaCount,
      selector: { matchLabels: SELECTOR_LABELS },
      template: {
        metadata: { labels: SELECTOR_LABELS },
        spec: {
          serviceAccountName: NAME,
          automountServiceAccountToken: true,
          terminationGracePeriodSeconds: 30,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 1000,
            runAsGroup: 1000,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [
            {
              name: 'operator',
              image,
              imagePullPolicy: values.image.pullPolicy,
              args: [
                'run',
                `--namespaces=${values.watchNamespaces.join(',')}`,
                `--workers=${operator.workers}`,
                `--leader-elect=${operator.leaderElection.enabled}`,
                `--leader-election-lease=${NAME}-leader`,
                `--health-port=${operator.healthPort}`,
                `--log-level=${operator.logLevel}`,
                `--event-ttl=${operator.eventTtl}`,
                `--revalidate-interval=${operator.revalidateInterval}`,
                `--dingtalk-robot-url=${operator.dingtalk.robotUrl}`,
                `--dingtalk-api-url=${operator.dingtalk.apiUrl}`,
                `--allowed-webhook-hosts=${operator.dingtalk.allowedWebhookHosts.join(',')}`,
                ...operator.extraArgs,
              ],
              env: POD_ENV,
              ports: [{ name: 'metrics', containerPort: operator.healthPort, protocol: 'TCP' }],
              ...probes('metrics'),
              resources: resources(operator.resources),
              securityContext: CONTAINER_SECURITY,
              volumeMounts: tmp,
            },
          ],
          volumes: [{ name: 'tmp', emptyDir: { sizeLimit: k8s.Quantity.fromString('16Mi') } }],
        },
      },
    },
  });
}

function receiverDeployment(scope: Construct, values: ChartValues, chart: ChartMetadata) {
  const image = `${values.image.repository}:${values.image.tag || chart.appVersion}`;
  const { receiver } = values;
  new k8s.KubeDeployment(scope, 'receiver-deployment', {
    metadata: { name: RECEIVER, labels: { ...labels(chart), ...COMPONENT_RECEIVER } },
    spec: {
      replicas: receiver.replicaCount,
      selector: { matchLabels: RECEIVER_SELECTOR_LABELS },
      template: {
        metadata: { labels: { ...RECEIVER_SELECTOR_LABELS, ...COMPONENT_RECEIVER } },
        spec: {
          serviceAccountName: RECEIVER,
          automountServiceAccountToken: true,
          terminationGracePeriodSeconds: 30,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 1000,
            runAsGroup: 1000,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [
            {
              name: 'receiver',
              image,
              imagePullPolicy: values.image.pullPolicy,
              args: [
                'receiver',
                `--port=${receiver.port}`,
                `--log-level=${receiver.logLevel}`,
                `--token-audiences=${receiver.tokenAudiences.join(',')}`,
                `--namespace-rate=${receiver.namespaceRate}`,
                `--namespace-burst=${receiver.namespaceBurst}`,
                ...receiver.extraArgs,
              ],
              env: POD_ENV,
              ports: [{ name: 'http', containerPort: receiver.port, protocol: 'TCP' }],
              ...probes('http'),
              resources: resources(receiver.resources),
              securityContext: CONTAINER_SECURITY,
              volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
            },
          ],
          volumes: [{ name: 'tmp', emptyDir: { sizeLimit: k8s.Quantity.fromString('16Mi') } }],
        },
      },
    },
  });
}

function namespaced(scope: Construct, values: ChartValues, chart: ChartMetadata) {
  new k8s.KubeServiceAccount(scope, 'service-account', {
    metadata: { name: NAME, labels: labels(chart) },
    automountServiceAccountToken: true,
  });
  new k8s.KubeServiceAccount(scope, 'receiver-service-account', {
    metadata: { name: RECEIVER, labels: { ...labels(chart), ...COMPONENT_RECEIVER } },
    automountServiceAccountToken: true,
  });
  new k8s.KubeRole(scope, 'leader-election-role', {
    metadata: { name: `${NAME}-leader-election`, labels: labels(chart) },
    rules: [
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
      {
        apiGroups: ['coordination.k8s.io'],
        resources: ['leases'],
        resourceNames: [`${NAME}-leader`],
        verbs: ['get', 'update'],
      },
    ],
  });
  new k8s.KubeRoleBinding(scope, 'leader-election-role-binding', {
    metadata: { name: `${NAME}-leader-election`, labels: labels(chart) },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `${NAME}-leader-election` },
    subjects: [SUBJECT],
  });
  deployment(scope, values, chart);
  receiverDeployment(scope, values, chart);
  new k8s.KubeService(scope, 'receiver-service', {
    metadata: { name: RECEIVER, labels: { ...labels(chart), ...COMPONENT_RECEIVER } },
    spec: {
      type: 'ClusterIP',
      selector: RECEIVER_SELECTOR_LABELS,
      ports: [
        {
          name: 'http',
          port: values.receiver.port,
          targetPort: k8s.IntOrString.fromString('http'),
          protocol: 'TCP',
        },
      ],
    },
  });
  new k8s.KubeService(scope, 'metrics-service', {
    metadata: {
      name: `${NAME}-metrics`,
      labels: { ...labels(chart), 'app.kubernetes.io/component': 'metrics' },
    },
    spec: {
      type: 'ClusterIP',
      selector: SELECTOR_LABELS,
      ports: [
        {
          name: 'metrics',
          port: values.operator.healthPort,
          targetPort: k8s.IntOrString.fromString('metrics'),
          protocol: 'TCP',
        },
      ],
    },
  });
  const { maxUnavailable: given } = values.podDisruptionBudget;
  const maxUnavailable =
    typeof given === 'number' ? k8s.IntOrString.fromNumber(given) : k8s.IntOrString.fromString(given);
  new k8s.KubePodDisruptionBudget(scope, 'pod-disruption-budget', {
    metadata: { name: NAME, labels: labels(chart) },
    spec: { maxUnavailable, selector: { matchLabels: SELECTOR_LABELS } },
  });
  new k8s.KubePodDisruptionBudget(scope, 'receiver-pod-disruption-budget', {
    metadata: { name: RECEIVER, labels: { ...labels(chart), ...COMPONENT_RECEIVER } },
    spec: { maxUnavailable, selector: { matchLabels: RECEIVER_SELECTOR_LABELS } },
  });
}

const HEADER =
  '# dingtalk-operator install manifests: `kubectl apply --server-side -f dist/install.yaml`.\n' +
  '# Generated by charts/install-manifests from the Helm chart defaults and operator/api; do not edit.\n';

/**
 * The chart's NetworkPolicies (networkPolicy.enabled=true, no peers given), for a plain install to apply
 * after dist/install.yaml: ingress to the operator's metrics port and the receiver's port only. As
 * written they admit any source on those ports; `from` entries narrow them (docs/security.md).
 */
function networkPolicies(scope: Construct, chart: ChartMetadata) {
  new k8s.KubeNetworkPolicy(scope, 'network-policy', {
    metadata: { name: NAME, labels: labels(chart) },
    spec: {
      podSelector: { matchLabels: SELECTOR_LABELS },
      policyTypes: ['Ingress'],
      ingress: [{ ports: [{ port: k8s.IntOrString.fromString('metrics'), protocol: 'TCP' }] }],
    },
  });
  new k8s.KubeNetworkPolicy(scope, 'receiver-network-policy', {
    metadata: { name: RECEIVER, labels: { ...labels(chart), ...COMPONENT_RECEIVER } },
    spec: {
      podSelector: { matchLabels: RECEIVER_SELECTOR_LABELS },
      policyTypes: ['Ingress'],
      ingress: [{ ports: [{ port: k8s.IntOrString.fromString('http'), protocol: 'TCP' }] }],
    },
  });
}

const NETWORK_POLICY_HEADER =
  '# dingtalk-operator NetworkPolicies, optional: `kubectl apply --server-side -f dist/networkpolicy.yaml`\n' +
  '# after dist/install.yaml. The chart renders the same with networkPolicy.enabled=true.\n' +
  '# Generated by charts/install-manifests from the Helm chart; do not edit.\n';

/** The chart's NetworkPolicies for the plain install, as one multi-document YAML text. */
export function networkPolicyYaml(): string {
  const { chart } = chartDefaults();
  const app = new App();
  networkPolicies(new Chart(app, 'network-policies', { namespace: INSTALL_NAMESPACE }), chart);
  return NETWORK_POLICY_HEADER + app.synthYaml();
}

/** The whole install as one multi-document YAML text. */
export function installYaml(): string {
  const { values, chart } = chartDefaults();
  const app = new App();
  clusterScoped(new Chart(app, 'cluster'), chart);
  namespaced(new Chart(app, 'namespaced', { namespace: INSTALL_NAMESPACE }), values, chart);
  return HEADER + app.synthYaml();
}
