import { stringify } from 'yaml';
import { eventually, kubectl } from '../support/kube.ts';
import { slow } from './harness.ts';

const TOKEN_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/token';

// A workload's one request: POST BODY to TARGET_URL with the pod's own ServiceAccount token (the projected
// one Kubernetes mounts), and report the answer's status and text as the pod's termination message.
const POST_WITH_OWN_TOKEN = `
import { readFileSync, writeFileSync } from 'node:fs';
const token = readFileSync('${TOKEN_FILE}', 'utf8');
const answer = await fetch(process.env.TARGET_URL, {
  method: 'POST',
  headers: { authorization: 'Bearer ' + token, 'content-type': 'application/json' },
  body: process.env.BODY,
});
writeFileSync('/dev/termination-log', answer.status + ' ' + (await answer.text()).slice(0, 2000));
process.exit(answer.status < 300 ? 0 : 1);
`;

/** The in-cluster API server, as client libraries in a pod address it. */
export const IN_CLUSTER_API = 'https://$(KUBERNETES_SERVICE_HOST):$(KUBERNETES_SERVICE_PORT)';

/** A pod spec running `script` with the operator's image (for its Node), as locked down as the operator. */
function nodeScriptPod(serviceAccount: string, image: string, script: string, env: Record<string, string>) {
  return {
    serviceAccountName: serviceAccount,
    restartPolicy: 'Never',
    securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000 },
    containers: [
      {
        name: 'main',
        image,
        imagePullPolicy: 'Never',
        command: ['node', '--input-type=module', '-e', script],
        env: Object.entries(env).map(([name, value]) => ({ name, value })),
        securityContext: {
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
          capabilities: { drop: ['ALL'] },
        },
      },
    ],
  };
}

/**
 * Runs a Job (one pod, no retries) under `serviceAccount` that POSTs `body` to `url` with the pod's
 * token, and returns the HTTP status and answer it reported.
 */
export async function postFromJob(
  namespace: string,
  name: string,
  serviceAccount: string,
  image: string,
  url: string,
  body: unknown,
): Promise<{ status: number; text: string }> {
  const spec = nodeScriptPod(serviceAccount, image, POST_WITH_OWN_TOKEN, {
    TARGET_URL: url,
    BODY: JSON.stringify(body),
    NODE_EXTRA_CA_CERTS: '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt',
  });
  const job = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace },
    spec: { backoffLimit: 0, template: { spec } },
  };
  await kubectl(['apply', '-f', '-'], stringify(job));
  const message = await eventually(async () => {
    const pods = JSON.parse(
      await kubectl(['get', 'pods', '-n', namespace, '-l', `job-name=${name}`, '-o', 'json']),
    ).items as { status?: { containerStatuses?: { state?: { terminated?: { message?: string } } }[] } }[];
    return pods[0]?.status?.containerStatuses?.[0]?.state?.terminated?.message;
  }, slow);
  const [status, ...text] = message.split(' ');
  return { status: Number(status), text: text.join(' ') };
}

/** A ServiceAccount, and when `mayRaiseAlarms` a Role and RoleBinding letting it create AlarmEvents. */
export async function workloadIdentity(
  namespace: string,
  name: string,
  mayRaiseAlarms: boolean,
): Promise<void> {
  const objects: object[] = [{ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace } }];
  if (mayRaiseAlarms) {
    objects.push(
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: { name, namespace },
        rules: [{ apiGroups: ['dingtalk.alarming.io'], resources: ['alarmevents'], verbs: ['create'] }],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name, namespace },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
        subjects: [{ kind: 'ServiceAccount', name, namespace }],
      },
    );
  }
  await kubectl(['apply', '-f', '-'], objects.map((o) => stringify(o)).join('---\n'));
}
