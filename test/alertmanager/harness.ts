import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { parse, stringify } from 'yaml';
import { API_VERSION, GROUP, VERSION } from '../../operator/api/index.ts';
import { deployedEnv } from '../bench/process-stats.ts';
import type { RecordedMessage } from '../emulator/schemas.ts';
import { eventually } from '../support/kube.ts';
import { startReadyProcess } from '../support/ready-process.ts';

/**
 * A real Alertmanager, built from its Go module (test/alertmanager/build.sh), configured by
 * examples/alertmanager/alertmanager.yml with only what a deployment must change (the receiver's address
 * and namespace in the URL, and the token file's path), in front of the receiver run as its command.
 */

const run = promisify(execFile);
const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
export const EXAMPLE = path.join(repoRoot, 'examples/alertmanager/alertmanager.yml');

/** Builds Alertmanager when the cache has none (a few minutes, once per machine); returns its path. */
export async function alertmanagerBinary(): Promise<string> {
  await run('bash', [path.join(repoRoot, 'test/alertmanager/build.sh')], { maxBuffer: 64 << 20 });
  const { stdout } = await run('bash', [path.join(repoRoot, 'test/cluster/paths.sh')]);
  const binary = /^ALERTMANAGER=(.*)$/m.exec(stdout)?.[1];
  if (!binary) throw new Error('test/cluster/paths.sh names no ALERTMANAGER');
  return binary;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (typeof address !== 'object' || !address) throw new Error('no port');
  return address.port;
}

interface WebhookConfig {
  url: string;
  http_config: { authorization: { credentials_file: string } };
  [key: string]: unknown;
}

/**
 * The example, with the receiver's URL pointed at `receiverUrl` and namespace, and the token read from
 * `tokenFile`. Everything else is the example's own.
 */
export function exampleConfig(receiverUrl: string, namespace: string, tokenFile: string) {
  const config = parse(readFileSync(EXAMPLE, 'utf8')) as {
    receivers: { webhook_configs: WebhookConfig[] }[];
  };
  const webhook = config.receivers[0]?.webhook_configs[0];
  if (!webhook) throw new Error('the example has no webhook receiver');
  const url = new URL(webhook.url);
  webhook.url = `${receiverUrl}${url.pathname.replace('/namespaces/monitoring/', `/namespaces/${namespace}/`)}`;
  webhook.http_config.authorization.credentials_file = tokenFile;
  return config;
}

export interface RunningAlertmanager {
  url: string;
  /** Alerts as Alertmanager's API takes them (what Prometheus sends). */
  post(alerts: PostableAlert[]): Promise<void>;
  /** Alertmanager's own counters for the webhook integration. */
  webhookCounters(): Promise<WebhookCounters>;
  stop(): Promise<void>;
  output(): string;
}

export interface PostableAlert {
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  startsAt: string;
  endsAt: string;
}

export interface WebhookCounters {
  /** Notifications that failed for good (every retry within the notification's timeout failed). */
  notificationsFailed: number;
  /** HTTP requests to the receiver that failed (each retry counts). */
  requestsFailed: number;
  requests: number;
  notifications: number;
}

export async function startAlertmanager(config: unknown): Promise<RunningAlertmanager> {
  const binary = await alertmanagerBinary();
  const dir = mkdtempSync(path.join(tmpdir(), 'alertmanager-'));
  const configFile = path.join(dir, 'alertmanager.yml');
  writeFileSync(configFile, stringify(config));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = await startReadyProcess(
    'alertmanager',
    binary,
    [
      `--config.file=${configFile}`,
      `--storage.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      // One instance: no gossip port, no peer wait before notifying.
      '--cluster.listen-address=',
      '--log.level=info',
    ],
    { readyUrl: `${url}/-/ready`, timeoutMs: 120_000 },
  );
  return {
    url,
    async post(alerts) {
      const response = await fetch(`${url}/api/v2/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(alerts),
      });
      if (!response.ok)
        throw new Error(`alertmanager took no alerts: ${response.status} ${await response.text()}`);
    },
    async webhookCounters() {
      const text = await (await fetch(`${url}/metrics`)).text();
      const sum = (name: string) =>
        text
          .split('\n')
          .filter((line) => line.startsWith(`${name}{`) && line.includes('integration="webhook"'))
          .reduce((total, line) => total + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
      return {
        notificationsFailed: sum('alertmanager_notifications_failed_total'),
        requestsFailed: sum('alertmanager_notification_requests_failed_total'),
        requests: sum('alertmanager_notification_requests_total'),
        notifications: sum('alertmanager_notifications_total'),
      };
    },
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
    output: server.output,
  };
}

export interface RunningReceiver {
  url: string;
  /** Peak resident set size, in bytes (the kernel's high-water mark, read from /proc every 100 ms). */
  peakRss(): number;
  /** CPU time used so far (user and system), in seconds. */
  cpuSeconds(): number;
  kill(signal?: NodeJS.Signals): Promise<void>;
  output(): string;
}

/**
 * The receiver as its command runs it (`dingtalk-operator receiver`), with default settings and the
 * chart's memory limit, so its heap is sized as in the cluster (and, under `make bench`, the image's
 * compile cache).
 */
export async function startReceiverCommand(
  kubeconfig: string,
  port: number,
  extra: string[] = [],
): Promise<RunningReceiver> {
  const url = `http://127.0.0.1:${port}`;
  const server = await startReadyProcess(
    'receiver',
    process.execPath,
    [
      path.join(repoRoot, 'operator/cli.ts'),
      'receiver',
      `--kubeconfig=${kubeconfig}`,
      `--port=${port}`,
      '--address=127.0.0.1',
      '--log-level=warn',
      ...extra,
    ],
    { readyUrl: `${url}/readyz`, timeoutMs: 120_000, env: deployedEnv('receiver') },
  );
  const { child } = server;
  let peak = 0;
  let cpu = 0;
  const sample = () => {
    try {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kib = Number(/^VmHWM:\s+(\d+)/m.exec(status)?.[1] ?? 0);
      peak = Math.max(peak, kib * 1024);
      // Fields 14 and 15 of /proc/PID/stat, after the command name in parentheses: utime and stime in
      // clock ticks (100 a second on Linux).
      const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      cpu = (Number(fields[11]) + Number(fields[12])) / 100;
    } catch {
      // Gone already.
    }
  };
  // VmHWM and the CPU times count from the start, so sampling from readiness on misses nothing.
  const sampler = setInterval(sample, 100);
  return {
    url,
    peakRss: () => {
      sample();
      return peak;
    },
    cpuSeconds: () => {
      sample();
      return cpu;
    },
    async kill(signal = 'SIGTERM') {
      clearInterval(sampler);
      await server.stop(signal);
    },
    output: server.output,
  };
}

/** A token file for `credentials_file`, holding a token of a ServiceAccount allowed to create AlarmEvents. */
export function tokenFile(token: string): { path: string; remove: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'alertmanager-token-'));
  const file = path.join(dir, 'token');
  writeFileSync(file, token, { mode: 0o600 });
  return { path: file, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A robot in the emulator, a DingTalkService for it and an AlarmRule sending it every Alertmanager alert. */
export async function robotForAlertmanager(
  kubeConfig: KubeConfig,
  namespace: string,
  emulator: { url: string; control: { putRobot(token: string, spec: { name: string }): Promise<unknown> } },
  token: string,
): Promise<void> {
  await emulator.control.putRobot(token, { name: 'ops' });
  await kubeConfig.makeApiClient(CoreV1Api).createNamespacedSecret({
    namespace,
    body: {
      metadata: { name: 'ops-robot' },
      stringData: { webhook: `${emulator.url}/robot/send?access_token=${token}` },
    },
  });
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const create = (plural: string, kind: string, spec: Record<string, unknown>) =>
    custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural,
      body: { apiVersion: API_VERSION, kind, metadata: { name: 'ops' }, spec },
    });
  await create('dingtalkservices', 'DingTalkService', {
    sendTo: ['Group'],
    groups: [{ name: 'ops', webhook: { name: 'ops-robot', key: 'webhook' } }],
  });
  await create('alarmrules', 'AlarmRule', {
    services: [{ name: 'ops' }],
    match: { sources: ['alertmanager'] },
    grouping: { groupBy: ['alertname'], groupWait: '1s', groupInterval: '1s', repeatInterval: '4h' },
  });
}

/** `count` alerts of one alertname, told apart by `instance`, firing from now on (as Prometheus sends them). */
export function stormAlerts(alertname: string, from: number, count: number, startsAt: Date): PostableAlert[] {
  return Array.from({ length: count }, (_, i) => ({
    labels: { alertname, instance: instanceName(from + i) },
    // The alarm's title: short, so that a digest holds many.
    annotations: { summary: instanceName(from + i) },
    startsAt: startsAt.toISOString(),
    // Prometheus sends an end a few evaluation intervals ahead and keeps pushing it forward.
    endsAt: new Date(startsAt.getTime() + 3_600_000).toISOString(),
  }));
}

export const instanceName = (i: number) => `h${String(i).padStart(5, '0')}`;

/** The receiver's count of alarms written with `result` for Alertmanager, from its /metrics. */
export async function receiverCount(
  receiver: RunningReceiver,
  result: 'created' | 'exists' | 'resolved',
): Promise<number> {
  const text = await (await fetch(`${receiver.url}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) =>
      l.startsWith(`dingtalk_operator_receiver_alarms_total{endpoint="alertmanager",result="${result}"}`),
    );
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

export interface SettledCounters extends WebhookCounters {
  /**
   * Requests that succeeded, as counted when the last failed notification was seen (0 when none failed).
   * Notifications of one group run one after another and a failed one has no successful request, so
   * more successful requests at the end mean a notification succeeded after the last failure.
   */
  okRequestsAtLastFailure: number;
}

/**
 * Samples Alertmanager's webhook counters every second. `settled()` waits (up to `timeoutMs`) until a
 * request has succeeded since the last failed notification, and returns the last sample either way, so
 * the caller's assertion decides.
 */
export function watchWebhookCounters(am: RunningAlertmanager, timeoutMs = 300_000) {
  let last: WebhookCounters | undefined;
  let okRequestsAtLastFailure = 0;
  const sample = async () => {
    const counters = await am.webhookCounters();
    if (counters.notificationsFailed > (last?.notificationsFailed ?? 0)) {
      okRequestsAtLastFailure = counters.requests - counters.requestsFailed;
    }
    last = counters;
    return counters;
  };
  const timer = setInterval(() => void sample().catch(() => undefined), 1_000);
  return {
    async settled(): Promise<SettledCounters> {
      try {
        await eventually(
          async () => {
            const counters = await sample();
            return counters.requests - counters.requestsFailed > okRequestsAtLastFailure ? true : undefined;
          },
          { timeoutMs, intervalMs: 1_000 },
        ).catch(() => undefined);
      } finally {
        clearInterval(timer);
      }
      const counters = await sample();
      return { ...counters, okRequestsAtLastFailure };
    },
  };
}

export interface RecordingProxy {
  url: string;
  /** Names of the AlarmEvents the receiver said it stored, in 202 answers and in the partial 503s. */
  stored: Set<string>;
  /** Answers Alertmanager got, by status (502: the receiver could not be reached or cut the request). */
  answers: Map<number, number>;
  /** The largest payload Alertmanager sent: its size in bytes and how many alerts it carried. */
  largest: { bytes: number; alerts: number };
  close(): Promise<void>;
}

/**
 * Stands between Alertmanager and the receiver and writes down what the receiver answered, so a test can
 * check that everything it accepted was kept. While the receiver is down Alertmanager gets 502, which it
 * retries as it would the connection error.
 */
export async function recordingProxy(target: string): Promise<RecordingProxy> {
  const stored = new Set<string>();
  const answers = new Map<number, number>();
  const largest = { bytes: 0, alerts: 0 };
  const server = createHttpServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const payload = Buffer.concat(chunks);
    if (payload.length > largest.bytes) {
      largest.bytes = payload.length;
      largest.alerts = (JSON.parse(payload.toString()) as { alerts: unknown[] }).alerts.length;
    }
    let status = 502;
    let body = '';
    let retryAfter: string | null = null;
    try {
      const answer = await fetch(`${target}${request.url}`, {
        method: request.method,
        headers: {
          'content-type': request.headers['content-type'] ?? 'application/json',
          authorization: request.headers.authorization ?? '',
        },
        body: request.method === 'POST' ? payload : undefined,
      });
      body = await answer.text();
      status = answer.status;
      retryAfter = answer.headers.get('retry-after');
      const alarms = (JSON.parse(body) as { alarms?: { name: string }[] }).alarms ?? [];
      if (status === 202 || status === 503) for (const { name } of alarms) stored.add(name);
    } catch (err) {
      if (status === 502) body = JSON.stringify({ message: `receiver unreachable: ${String(err)}` });
    }
    answers.set(status, (answers.get(status) ?? 0) + 1);
    response.writeHead(status, {
      'content-type': 'application/json',
      ...(retryAfter ? { 'retry-after': retryAfter } : {}),
    });
    response.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('no port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    stored,
    answers,
    largest,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Pushes `total` alerts into Alertmanager in even batches over `seconds`, as a storm of rule evaluations
 * would; returns when the last batch is in.
 */
export async function pushStorm(
  am: RunningAlertmanager,
  alertname: string,
  total: number,
  seconds: number,
  startsAt: Date,
): Promise<void> {
  const batches = seconds * 2;
  const size = Math.ceil(total / batches);
  const begin = Date.now();
  for (let b = 0, sent = 0; sent < total; b++) {
    const count = Math.min(size, total - sent);
    await am.post(stormAlerts(alertname, sent, count, startsAt));
    sent += count;
    const due = begin + ((b + 1) * seconds * 1000) / batches;
    if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
  }
}

/**
 * For each alarm (by instance, its title), how many messages carried it firing and resolved. A
 * notification of its own and a digest line both name an alarm as `【MARKER】title`.
 */
export function deliveriesByInstance(
  messages: RecordedMessage[],
): Map<string, { firing: number; resolved: number }> {
  const byInstance = new Map<string, { firing: number; resolved: number }>();
  for (const message of messages) {
    const seen = new Map<string, { firing: boolean; resolved: boolean }>();
    for (const match of (message.text ?? '').matchAll(/【(\w+)】(?:\d+ alarms: )?(h\d{5})/g)) {
      const [, marker, instance] = match as unknown as [string, string, string];
      const entry = seen.get(instance) ?? { firing: false, resolved: false };
      if (marker === 'RESOLVED') entry.resolved = true;
      else entry.firing = true;
      seen.set(instance, entry);
    }
    for (const [instance, { firing, resolved }] of seen) {
      const count = byInstance.get(instance) ?? { firing: 0, resolved: 0 };
      count.firing += firing ? 1 : 0;
      count.resolved += resolved ? 1 : 0;
      byInstance.set(instance, count);
    }
  }
  return byInstance;
}
