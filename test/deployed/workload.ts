import { stringify } from 'yaml';
import { DEFAULT_TOKEN_AUDIENCE } from '../../operator/receiver/config.ts';
import { eventually, kubectl } from '../support/kube.ts';
import { slow } from './harness.ts';

/** The token Kubernetes mounts for the API server. */
const API_TOKEN_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/token';
/** Where a token for another audience (the receiver's) is projected, as the README shows. */
const AUDIENCE_TOKEN_DIR = '/var/run/secrets/audience';

// A workload's one request: POST BODY to TARGET_URL with a token of the pod's own ServiceAccount read from
// TOKEN_FILE, and report the answer's status and text as the pod's termination message.
const POST_WITH_OWN_TOKEN = `
import { readFileSync, writeFileSync } from 'node:fs';
const token = readFileSync(process.env.TOKEN_FILE, 'utf8');
const answer = await fetch(process.env.TARGET_URL, {
  method: 'POST',
  headers: { authorization: 'Bearer ' + token, 'content-type': 'application/json' },
  body: process.env.BODY,
});
writeFileSync('/dev/termination-log', answer.status + ' ' + (await answer.text()).slice(0, 2000));
process.exit(answer.status < 300 ? 0 : 1);
`;

// A sender of alarms, as a client that honours the receiver's answers: it POSTs batches of BATCH alarms
// ("PREFIX alarm N", fingerprint PREFIX-N, so a retry names the same AlarmEvent) to TARGET_URL, and sends
// a batch again after a 503 or 429 (once its Retry-After has passed) or a failed connection. Each answer is one
// line of its log: "<first N> <alarms> <status> <Retry-After or error code>"; "done" when COUNT alarms
// (0: no end) were accepted. PAUSE_MS between accepted batches.
const SEND_ALARMS = `
import { readFileSync } from 'node:fs';
const { TARGET_URL, PREFIX, STARTS_AT } = process.env;
const [count, batch, pause] = ['COUNT', 'BATCH', 'PAUSE_MS'].map((name) => Number(process.env[name]));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
let sent = 0;
while (count === 0 || sent < count) {
  const size = count === 0 ? batch : Math.min(batch, count - sent);
  const alarms = Array.from({ length: size }, (_, k) => ({
    severity: 'warning',
    title: PREFIX + ' alarm ' + (sent + k),
    source: PREFIX,
    state: 'firing',
    startsAt: STARTS_AT,
    fingerprint: PREFIX + '-' + (sent + k),
    labels: { alertname: PREFIX + '-' + (sent + k) },
  }));
  let status = 0;
  let detail = '-';
  try {
    const answer = await fetch(TARGET_URL, {
      method: 'POST',
      headers: {
        authorization: 'Bearer ' + readFileSync(process.env.TOKEN_FILE, 'utf8'),
        'content-type': 'application/json',
      },
      body: JSON.stringify(alarms),
      signal: AbortSignal.timeout(30_000),
    });
    status = answer.status;
    detail = answer.headers.get('retry-after') ?? '-';
    await answer.arrayBuffer();
  } catch (err) {
    detail = err.cause?.code ?? err.name;
  }
  console.log(sent + ' ' + size + ' ' + status + ' ' + detail);
  if (status === 202) {
    sent += size;
    await sleep(pause);
  } else {
    await sleep((status === 503 || status === 429) && Number(detail) > 0 ? Number(detail) * 1000 : 1000);
  }
}
console.log('done');
`;

/** The in-cluster API server, as client libraries in a pod address it. */
export const IN_CLUSTER_API = 'https://$(KUBERNETES_SERVICE_HOST):$(KUBERNETES_SERVICE_PORT)';

/**
 * A pod spec running `script` with the operator's image (for its Node), as locked down as the operator;
 * with `audience`, a projected token for it is mounted in AUDIENCE_TOKEN_DIR.
 */
function nodeScriptPod(
  serviceAccount: string,
  image: string,
  script: string,
  env: Record<string, string>,
  audience?: string,
) {
  const volume = 'audience-token';
  return {
    serviceAccountName: serviceAccount,
    restartPolicy: 'Never',
    ...(audience && {
      volumes: [
        {
          name: volume,
          projected: {
            sources: [{ serviceAccountToken: { audience, expirationSeconds: 3600, path: 'token' } }],
          },
        },
      ],
    }),
    securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000 },
    containers: [
      {
        name: 'main',
        image,
        imagePullPolicy: 'Never',
        command: ['node', '--input-type=module', '-e', script],
        env: Object.entries(env).map(([name, value]) => ({ name, value })),
        ...(audience && { volumeMounts: [{ name: volume, mountPath: AUDIENCE_TOKEN_DIR, readOnly: true }] }),
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
 * Runs a Job (one pod, no retries) under `serviceAccount` that POSTs `body` to `url` with a token of that
 * ServiceAccount (the API server's, or with `audience` one projected for it), and returns the HTTP status
 * and answer it reported.
 */
export async function postFromJob(
  namespace: string,
  name: string,
  serviceAccount: string,
  image: string,
  url: string,
  body: unknown,
  audience?: string,
): Promise<{ status: number; text: string }> {
  const spec = nodeScriptPod(
    serviceAccount,
    image,
    POST_WITH_OWN_TOKEN,
    {
      TARGET_URL: url,
      BODY: JSON.stringify(body),
      TOKEN_FILE: audience ? `${AUDIENCE_TOKEN_DIR}/token` : API_TOKEN_FILE,
      NODE_EXTRA_CA_CERTS: '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt',
    },
    audience,
  );
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

export interface SenderOptions {
  /** Alarms to send in all; 0: until the pod is deleted. */
  count: number;
  batch: number;
  pauseMs?: number;
}

/** One answer a sender logged. */
export interface SenderAnswer {
  first: number;
  alarms: number;
  status: number;
  /** Retry-After, or the connection error's code. */
  detail: string;
}

/**
 * Starts a pod under `serviceAccount` that sends alarms named `${prefix} alarm N` to `url` (see
 * SEND_ALARMS) with a projected token for the receiver's audience; `senderLog` reads what it got so far.
 */
export async function startSender(
  namespace: string,
  prefix: string,
  serviceAccount: string,
  image: string,
  url: string,
  { count, batch, pauseMs = 0 }: SenderOptions,
): Promise<void> {
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: prefix, namespace },
    spec: nodeScriptPod(
      serviceAccount,
      image,
      SEND_ALARMS,
      {
        TARGET_URL: url,
        TOKEN_FILE: `${AUDIENCE_TOKEN_DIR}/token`,
        PREFIX: prefix,
        STARTS_AT: new Date().toISOString(),
        COUNT: String(count),
        BATCH: String(batch),
        PAUSE_MS: String(pauseMs),
      },
      DEFAULT_TOKEN_AUDIENCE,
    ),
  };
  await kubectl(['apply', '-f', '-'], stringify(pod));
}

/** The answers the sender `prefix` logged so far, and whether it is done. */
export async function senderLog(
  namespace: string,
  prefix: string,
): Promise<{ answers: SenderAnswer[]; done: boolean }> {
  const lines = (await kubectl(['logs', '-n', namespace, prefix])).trim().split('\n').filter(Boolean);
  const answers = lines
    .filter((line) => line !== 'done')
    .map((line) => {
      const [first, alarms, status, detail] = line.split(' ');
      return { first: Number(first), alarms: Number(alarms), status: Number(status), detail: detail ?? '' };
    });
  return { answers, done: lines.includes('done') };
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
