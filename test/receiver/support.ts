import { Writable } from 'node:stream';
import {
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  RbacAuthorizationV1Api,
} from '@kubernetes/client-node';
import { ALARM_EVENT_PLURAL, type AlarmEvent, GROUP, VERSION } from '../../operator/api/index.ts';
import { toKubeApiError } from '../../operator/errors.ts';
import { DEFAULT_TOKEN_AUDIENCE, loadReceiverConfig } from '../../operator/receiver/config.ts';
import { ReceiverMetrics } from '../../operator/receiver/metrics.ts';
import { buildReceiver } from '../../operator/receiver/receiver.ts';
import { createLogger } from '../../operator/runtime/logger.ts';

/**
 * A receiver in this process, built from `flags` exactly as the `receiver` command builds it, listening
 * on a free port of 127.0.0.1 (over HTTPS when the flags give a certificate).
 */
export async function startReceiver(
  kubeConfig: KubeConfig,
  {
    defaultNamespace = 'default',
    kubeRequestTimeoutMs,
    flags = [],
    now,
  }: { defaultNamespace?: string; kubeRequestTimeoutMs?: number; flags?: string[]; now?: () => number } = {},
): Promise<{
  url: string;
  logLines: string[];
  metrics: ReceiverMetrics;
  close: () => Promise<void>;
}> {
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
  const config = loadReceiverConfig({
    argv: [
      `--namespace=${defaultNamespace}`,
      // The product's timeout unless a test is about the API server failing.
      ...(kubeRequestTimeoutMs ? [`--kube-request-timeout=${kubeRequestTimeoutMs}ms`] : []),
      ...flags,
    ],
    env: {},
  });
  const metrics = new ReceiverMetrics({ processMetrics: false });
  const receiver = buildReceiver(config, {
    kubeEndpoint: kubeConfig,
    logger,
    metrics,
    ready: () => true,
    now,
  });
  await receiver.app.listen({ host: '127.0.0.1', port: 0 });
  const address = receiver.app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `${receiver.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    logLines,
    metrics,
    close: receiver.close,
  };
}

/** A ServiceAccount token for `audiences` (the receiver's own by default), from the TokenRequest API. */
export async function requestToken(
  kubeConfig: KubeConfig,
  namespace: string,
  name: string,
  audiences: string[] = [DEFAULT_TOKEN_AUDIENCE],
): Promise<string> {
  const request = await kubeConfig.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
    namespace,
    name,
    body: { spec: { audiences, expirationSeconds: 3600 } },
  });
  const token = request.status?.token;
  if (!token) throw new Error(`no token issued for ${namespace}/${name}`);
  return token;
}

/**
 * A ServiceAccount in `namespace` and a token for the receiver's audience; with `mayCreate`, a Role and
 * RoleBinding letting it create and patch (resolve) AlarmEvents there, as a caller of the receiver needs;
 * `verbs` grants others instead.
 */
export async function serviceAccountToken(
  kubeConfig: KubeConfig,
  namespace: string,
  name: string,
  { mayCreate, verbs = mayCreate ? ['create', 'patch'] : [] }: { mayCreate: boolean; verbs?: string[] },
): Promise<string> {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  if (verbs.length > 0) {
    const rbac = kubeConfig.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace,
      body: {
        metadata: { name: `${name}-raise-alarms` },
        rules: [{ apiGroups: [GROUP], resources: [ALARM_EVENT_PLURAL], verbs }],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: `${name}-raise-alarms` },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `${name}-raise-alarms` },
        subjects: [{ kind: 'ServiceAccount', name, namespace }],
      },
    });
  }
  return requestToken(kubeConfig, namespace, name);
}

/**
 * The namespace's AlarmEvents by name. A 429 or 5xx is asked again: a loaded API server answers 429 while
 * its cache of the CRD is still (re)initializing.
 */
export async function listAlarmEvents(kubeConfig: KubeConfig, namespace: string): Promise<AlarmEvent[]> {
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const list = async () =>
    (await custom.listNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: ALARM_EVENT_PLURAL,
    })) as { items: AlarmEvent[] };
  for (let attempt = 1; ; attempt++) {
    try {
      const { items } = await list();
      return items.sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
    } catch (err) {
      const status = toKubeApiError(err)?.status;
      if (attempt >= 5 || status === undefined || (status !== 429 && status < 500)) throw err;
      await new Promise((resolve) => setTimeout(resolve, 1_000 * attempt));
    }
  }
}

export async function postJson(
  url: string,
  body: unknown,
  token?: string,
): Promise<{ status: number; headers: Headers; json: Record<string, unknown> }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return {
    status: response.status,
    headers: response.headers,
    json: (await response.json()) as Record<string, unknown>,
  };
}

export interface TestAlert {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
  fingerprint: string;
}

/** Alertmanager's webhook payload (version 4) for `alerts`, as Alertmanager sends it. */
export function alertmanagerPayload(alerts: TestAlert[]) {
  return {
    version: '4',
    groupKey: '{}/{severity="critical"}:{alertname="NodeDiskFull"}',
    truncatedAlerts: 0,
    status: alerts.some((a) => a.status === 'firing') ? 'firing' : 'resolved',
    receiver: 'dingtalk',
    groupLabels: { alertname: 'NodeDiskFull' },
    commonLabels: { alertname: 'NodeDiskFull', severity: 'critical' },
    commonAnnotations: {},
    externalURL: 'http://alertmanager.monitoring:9093',
    alerts,
  };
}

export function diskAlert(
  node: number,
  status: 'firing' | 'resolved' = 'firing',
  fingerprintSeed = 0,
): TestAlert {
  return {
    status,
    labels: { alertname: 'NodeDiskFull', severity: 'critical', node: `node-${node}` },
    annotations: {
      summary: `Disk almost full on node-${node}`,
      description: '/var/lib/containerd is at 93%.',
    },
    startsAt: '2026-05-01T08:00:00.123456789Z',
    endsAt: status === 'resolved' ? '2026-05-01T08:42:10Z' : '0001-01-01T00:00:00Z',
    generatorURL: 'http://prometheus.monitoring:9090/graph?g0.expr=disk',
    fingerprint: (fingerprintSeed * 1000 + node).toString(16).padStart(16, '0'),
  };
}
