import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { inject } from 'vitest';
import { stringify } from 'yaml';
import { ensureNode, loadImage } from '../cluster/node.ts';
import { createEmulatorControl, type EmulatorControl } from '../emulator/control-client.ts';
import { repoRoot } from '../packaging/helm.ts';
import { eventually, kubectl } from '../support/kube.ts';

const run = promisify(execFile);

/** The namespace every install path uses (the receiver URL in the examples names it). */
export const OPERATOR_NAMESPACE = 'dingtalk-operator';
export const EMULATOR_NAMESPACE = 'dingtalk-emulator';
/** How the operator's pods reach the emulator: through its Service. */
export const EMULATOR_HOST = `dingtalk-emulator.${EMULATOR_NAMESPACE}.svc`;
export const EMULATOR_URL = `http://${EMULATOR_HOST}:8780`;
export const slow = { timeoutMs: 300_000, intervalMs: 1000 };

export interface Images {
  OPERATOR_IMAGE: string;
  OPERATOR_ARCHIVE: string;
  EMULATOR_IMAGE: string;
  EMULATOR_ARCHIVE: string;
}

/** The images test/image/build.sh builds (a cache hit after `make images`), loaded into the node. */
export async function loadedImages(): Promise<Images> {
  const { stdout } = await run('bash', [path.join(repoRoot, 'test/image/build.sh')], { maxBuffer: 64 << 20 });
  const images = Object.fromEntries(
    stdout
      .trim()
      .split('\n')
      .map((line) => line.split('=', 2)),
  ) as Images;
  await ensureNode();
  await loadImage(images.OPERATOR_ARCHIVE);
  await loadImage(images.EMULATOR_ARCHIVE);
  return images;
}

export function splitImage(image: string): { repository: string; tag: string } {
  const at = image.lastIndexOf(':');
  return { repository: image.slice(0, at), tag: image.slice(at + 1) };
}

/**
 * The DingTalk emulator as a pod behind a Service, as locked down as the operator's pods (uid 1000,
 * read-only root filesystem). Tests steer it through its control API at the pod's address.
 */
export async function deployEmulator(image: string): Promise<{ url: string; control: EmulatorControl }> {
  const labels = { app: 'dingtalk-emulator' };
  const objects = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: EMULATOR_NAMESPACE } },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'dingtalk-emulator', namespace: EMULATOR_NAMESPACE },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            automountServiceAccountToken: false,
            securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000 },
            containers: [
              {
                name: 'emulator',
                image,
                imagePullPolicy: 'Never',
                ports: [{ name: 'http', containerPort: 8780 }],
                readinessProbe: { httpGet: { path: '/_control/stats', port: 'http' }, periodSeconds: 2 },
                securityContext: {
                  readOnlyRootFilesystem: true,
                  allowPrivilegeEscalation: false,
                  capabilities: { drop: ['ALL'] },
                },
              },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'dingtalk-emulator', namespace: EMULATOR_NAMESPACE },
      spec: { selector: labels, ports: [{ name: 'http', port: 8780, targetPort: 'http' }] },
    },
  ];
  await kubectl(['apply', '--server-side', '-f', '-'], objects.map((o) => stringify(o)).join('---\n'));
  const podIp = await eventually(async () => {
    const pods = JSON.parse(
      await kubectl(['get', 'pods', '-n', EMULATOR_NAMESPACE, '-l', 'app=dingtalk-emulator', '-o', 'json']),
    ).items as { status?: { podIP?: string; conditions?: { type: string; status: string }[] } }[];
    const ready = pods.find((p) =>
      p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    );
    return ready?.status?.podIP;
  }, slow);
  const url = `http://${podIp}:8780`;
  return { url, control: createEmulatorControl(url) };
}

/** `helm` of the test run, with the cluster's kubeconfig. */
export async function helm(args: string[]): Promise<string> {
  try {
    return (
      await run(inject('helm'), ['--kubeconfig', inject('kubeconfig'), ...args], { maxBuffer: 64 << 20 })
    ).stdout;
  } catch (err) {
    throw new Error((err as { stderr?: string }).stderr?.trim() || String(err));
  }
}

/**
 * Chart values: the defaults, except the image, DingTalk's URLs (the emulator) and the namespaces
 * watched. The other test files of the run share this cluster, each with an operator of its own
 * watching its namespace; an operator watching every namespace would write their statuses too.
 */
export function chartValues(images: Images, watched: readonly string[], extra: string[] = []): string[] {
  const { repository, tag } = splitImage(images.OPERATOR_IMAGE);
  return [
    `image.repository=${repository}`,
    `image.tag=${tag}`,
    `operator.dingtalk.robotUrl=${EMULATOR_URL}`,
    `operator.dingtalk.apiUrl=${EMULATOR_URL}`,
    `operator.dingtalk.allowedWebhookHosts={${EMULATOR_HOST}}`,
    `watchNamespaces={${watched.join(',')}}`,
    ...extra,
  ].flatMap((value) => ['--set', value]);
}

export interface PodState {
  name: string;
  ip?: string;
  ready: boolean;
  restarts: number;
  oomKilled: boolean;
}

/** The operator's pods, or the receiver's (a Deployment of its own). */
export async function operatorPods(component: 'operator' | 'receiver' = 'operator'): Promise<PodState[]> {
  const pods = JSON.parse(
    await kubectl([
      'get',
      'pods',
      '-n',
      OPERATOR_NAMESPACE,
      '-l',
      `app.kubernetes.io/name=${component === 'operator' ? 'dingtalk-operator' : 'dingtalk-operator-receiver'}`,
      '-o',
      'json',
    ]),
  ).items as {
    metadata: { name: string; deletionTimestamp?: string };
    status?: {
      podIP?: string;
      conditions?: { type: string; status: string }[];
      containerStatuses?: { restartCount: number; lastState?: { terminated?: { reason?: string } } }[];
    };
  }[];
  return pods
    .filter((p) => !p.metadata.deletionTimestamp)
    .map((p) => ({
      name: p.metadata.name,
      ip: p.status?.podIP,
      ready: p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
      restarts: (p.status?.containerStatuses ?? []).reduce((sum, c) => sum + c.restartCount, 0),
      oomKilled: (p.status?.containerStatuses ?? []).some(
        (c) => c.lastState?.terminated?.reason === 'OOMKilled',
      ),
    }));
}

/** Waits until `count` operator (or receiver) pods are Ready, and returns them. */
export function readyOperatorPods(
  count = 2,
  timeoutMs = slow.timeoutMs,
  component: 'operator' | 'receiver' = 'operator',
): Promise<PodState[]> {
  return eventually(
    async () => {
      const pods = await operatorPods(component);
      return pods.length === count && pods.every((p) => p.ready) ? pods : undefined;
    },
    { timeoutMs, intervalMs: 1000 },
  );
}

/** The holder of the operator's leader Lease. */
export async function leader(): Promise<string> {
  const leases = JSON.parse(await kubectl(['get', 'leases', '-n', OPERATOR_NAMESPACE, '-o', 'json']))
    .items as {
    metadata: { name: string };
    spec?: { holderIdentity?: string };
  }[];
  return leases.find((l) => l.metadata.name.endsWith('-leader'))?.spec?.holderIdentity ?? '';
}

/** A container's resident memory in MiB, from its Prometheus metrics at the pod's address. */
export async function residentMemoryMiB(podIp: string, container: 'operator' | 'receiver'): Promise<number> {
  const [port, prefix] =
    container === 'operator' ? [8081, 'dingtalk_operator_'] : [8080, 'dingtalk_operator_receiver_'];
  const text = await (await fetch(`http://${podIp}:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${prefix}process_resident_memory_bytes `));
  return Number(line?.split(' ')[1]) / 2 ** 20;
}

export interface AlarmItem {
  metadata: { name: string };
  spec?: { labels?: Record<string, string> };
  status?: { phase?: string };
}

/** The AlarmEvents of a namespace with their phases. */
export async function alarmPhases(namespace: string): Promise<AlarmItem[]> {
  return JSON.parse(await kubectl(['get', 'alarmevents', '-n', namespace, '-o', 'json'])).items;
}

/** The AlarmEvents of a namespace whose spec.source is `source`, by fingerprint: their phases. */
export async function phasesBySource(namespace: string, source: string): Promise<Map<string, string>> {
  const lines = await kubectl([
    'get',
    'alarmevents',
    '-n',
    namespace,
    '-o',
    'jsonpath={range .items[*]}{.spec.source} {.spec.fingerprint} {.status.phase}{"\\n"}{end}',
  ]);
  const phases = new Map<string, string>();
  for (const line of lines.split('\n')) {
    const [from, fingerprint, phase] = line.split(' ');
    if (from === source && fingerprint) phases.set(fingerprint, phase ?? '');
  }
  return phases;
}

/**
 * A group robot on the emulator with a DingTalkService and an AlarmRule for the alarms whose source is
 * `name`: each alarm its own group (its alertname), sent as soon as the robot's budget allows.
 */
export async function stormRoute(namespace: string, name: string, token: string, control: EmulatorControl) {
  await control.putRobot(token, { name });
  const objects = [
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: `${name}-robot`, namespace },
      stringData: { webhook: `${EMULATOR_URL}/robot/send?access_token=${token}` },
    },
    {
      apiVersion: 'dingtalk.alarming.io/v1alpha1',
      kind: 'DingTalkService',
      metadata: { name, namespace },
      spec: { sendTo: ['Group'], groups: [{ name, webhook: { name: `${name}-robot`, key: 'webhook' } }] },
    },
    {
      apiVersion: 'dingtalk.alarming.io/v1alpha1',
      kind: 'AlarmRule',
      metadata: { name, namespace },
      spec: {
        services: [{ name }],
        match: { sources: [name] },
        grouping: { groupBy: ['alertname'], groupWait: '1s', groupInterval: '1s', repeatInterval: '4h' },
      },
    },
  ];
  await kubectl(['apply', '-f', '-'], objects.map((o) => stringify(o)).join('---\n'));
  await kubectl([
    'wait',
    '-n',
    namespace,
    '--for=condition=Ready',
    '--timeout=300s',
    `dingtalkservice/${name}`,
    `alarmrule/${name}`,
  ]);
}

/** The numbers N of the alarms `${prefix} alarm N` listed in the messages the robot `token` received. */
export async function alarmsShown(
  control: EmulatorControl,
  token: string,
  prefix: string,
): Promise<Set<number>> {
  const shown = new Set<number>();
  const pattern = new RegExp(`${prefix} alarm (\\d+)(?!\\d)`, 'g');
  for (const message of await control.messages({ robot: token }))
    for (const match of message.text.matchAll(pattern)) shown.add(Number(match[1]));
  return shown;
}
