import type { ChildProcess } from 'node:child_process';
import diagnosticsChannel from 'node:diagnostics_channel';
import { existsSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * What a measured process asks of the API server: the requests it makes and the connections it opens,
 * counted from undici's own diagnostics channels (every request created, every connection once its TLS
 * handshake is done), so nothing in the product is changed to count them. The benchmark starts the
 * process with kubeTrafficEnv(), which loads this module first (`--import`); readKubeTraffic() asks the
 * process for its counts with a signal, and the module writes them to a file then (and at exit), so the
 * counting costs the measured process no CPU between readings: written ten times a second, the file cost
 * a storm's operator 5 s of CPU. Only calls to the API server's origin count: DingTalk's go through
 * undici too.
 */

export interface KubeTraffic {
  /** Requests by method; a retried call counts once per attempt, as the API server sees it. */
  requests: Record<string, number>;
  /**
   * The same requests by method and resource ("PATCH alarmevents/status"), with the field manager of a
   * server-side apply ("PATCH dingtalkservices/status (dingtalk-operator-quota)"), to tell whose writes they are.
   */
  resources: Record<string, number>;
  /** Answers by method and status code ("PATCH 409"): a conflict or a throttle shows as a request more. */
  answers: Record<string, number>;
  /** Of the GETs, the watches (each holds a stream, not a connection, over HTTP/2). */
  watches: number;
  /** TCP connections opened and TLS handshakes done, by the HTTP version agreed (ALPN). */
  connections: Record<string, number>;
  /** Of those handshakes, the ones that resumed an earlier TLS session. */
  resumed: number;
  connectErrors: number;
}

/** Ignored by a process that has not loaded this module (yet), unlike SIGUSR1 and SIGUSR2. */
const ASK_SIGNAL = 'SIGWINCH';

const FILE_ENV = 'BENCH_KUBE_TRAFFIC_FILE';
const ORIGIN_ENV = 'BENCH_KUBE_ORIGIN';

/**
 * The environment that makes a child process count its API server traffic into a file of its own, with
 * `env`'s NODE_OPTIONS kept; and that file.
 */
export function kubeTrafficEnv(
  apiServer: string,
  env: NodeJS.ProcessEnv,
): { env: NodeJS.ProcessEnv; file: string } {
  const self = path.resolve(path.dirname(new URL(import.meta.url).pathname), 'kube-traffic.ts');
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'kube-traffic-')), 'counts.json');
  return {
    file,
    env: {
      ...env,
      NODE_OPTIONS: `${env.NODE_OPTIONS ?? ''} --import=${self}`,
      [FILE_ENV]: file,
      [ORIGIN_ENV]: new URL(apiServer).origin,
    },
  };
}

/** The counts of a running process as they are now; of one that has exited, as they were at its exit. */
export async function readKubeTraffic(file: string, child: ChildProcess): Promise<KubeTraffic> {
  if (child.exitCode === null && child.signalCode === null) {
    const asked = writings(file);
    child.kill(ASK_SIGNAL);
    const deadline = Date.now() + 10_000;
    while (writings(file) === asked) {
      if (Date.now() > deadline) throw new Error(`process ${child.pid} did not write its API traffic counts`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
  return JSON.parse(readFileSync(file, 'utf8')) as KubeTraffic;
}

/** How many times the process has written its counts. */
function writings(file: string): number {
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { writings: number }).writings : 0;
}

export const totalRequests = (t: KubeTraffic) => Object.values(t.requests).reduce((a, b) => a + b, 0);
export const totalConnections = (t: KubeTraffic) => Object.values(t.connections).reduce((a, b) => a + b, 0);

/** What happened between two readings. */
export function since(before: KubeTraffic, after: KubeTraffic): KubeTraffic {
  const minus = (a: Record<string, number>, b: Record<string, number>) =>
    Object.fromEntries(Object.entries(a).map(([key, value]) => [key, value - (b[key] ?? 0)]));
  return {
    requests: minus(after.requests, before.requests),
    resources: minus(after.resources ?? {}, before.resources ?? {}),
    answers: minus(after.answers, before.answers),
    watches: after.watches - before.watches,
    connections: minus(after.connections, before.connections),
    resumed: after.resumed - before.resumed,
    connectErrors: after.connectErrors - before.connectErrors,
  };
}

/**
 * The resource of an API path: its plural, with the subresource ("alarmevents/status", "leases"), after
 * the namespace and name if any.
 */
export function resourceOf(path: string): string {
  const parts = (path.split('?')[0] ?? '').split('/').filter(Boolean);
  const rest = parts[0] === 'api' ? parts.slice(2) : parts.slice(3);
  const scoped = rest[0] === 'namespaces' && rest.length > 2 ? rest.slice(2) : rest;
  const [plural = '', , subresource] = scoped;
  return subresource ? `${plural}/${subresource}` : plural;
}

/** e.g. "GET 1,012, PATCH 1,000, POST 2" */
export const byKey = (counts: Record<string, number>) =>
  Object.entries(counts)
    .filter(([, n]) => n > 0)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, n]) => `${key} ${n.toLocaleString('en')}`)
    .join(', ') || 'none';

const file = process.env[FILE_ENV];
const apiOrigin = process.env[ORIGIN_ENV];
if (file && apiOrigin) {
  const counts: KubeTraffic = {
    requests: {},
    resources: {},
    answers: {},
    watches: 0,
    connections: {},
    resumed: 0,
    connectErrors: 0,
  };
  const isApi = (origin: unknown) => {
    try {
      return new URL(String(origin)).origin === apiOrigin;
    } catch {
      return false;
    }
  };
  let writings = 0;
  diagnosticsChannel.subscribe('undici:request:create', (message) => {
    const { request } = message as { request: { origin: unknown; method: string; path: string } };
    if (!isApi(request.origin)) return;
    counts.requests[request.method] = (counts.requests[request.method] ?? 0) + 1;
    // Server-side applies name their field manager: two writers of one status tell apart by it.
    const manager = /[?&]fieldManager=([^&]+)/.exec(request.path)?.[1];
    const resource = `${request.method} ${resourceOf(request.path)}${manager ? ` (${decodeURIComponent(manager)})` : ''}`;
    counts.resources[resource] = (counts.resources[resource] ?? 0) + 1;
    if (/[?&]watch=true(&|$)/.test(request.path)) counts.watches++;
  });
  diagnosticsChannel.subscribe('undici:request:headers', (message) => {
    const { request, response } = message as {
      request: { origin: unknown; method: string };
      response: { statusCode: number };
    };
    if (!isApi(request.origin)) return;
    const key = `${request.method} ${response.statusCode}`;
    counts.answers[key] = (counts.answers[key] ?? 0) + 1;
  });
  diagnosticsChannel.subscribe('undici:client:connected', (message) => {
    const { connectParams, socket } = message as {
      connectParams: { protocol: string; hostname: string; port: string; version?: string };
      socket: { isSessionReused?: () => boolean };
    };
    const { protocol, hostname, port, version = 'unknown' } = connectParams;
    if (!isApi(`${protocol}//${hostname}${port ? `:${port}` : ''}`)) return;
    counts.connections[version] = (counts.connections[version] ?? 0) + 1;
    if (socket.isSessionReused?.()) counts.resumed++;
  });
  diagnosticsChannel.subscribe('undici:client:connectError', (message) => {
    const { connectParams } = message as {
      connectParams: { protocol: string; hostname: string; port: string };
    };
    const { protocol, hostname, port } = connectParams;
    if (!isApi(`${protocol}//${hostname}${port ? `:${port}` : ''}`)) return;
    counts.connectErrors++;
  });
  const write = () => {
    // Written aside and renamed, so the benchmark never reads a file half written.
    writeFileSync(`${file}.next`, JSON.stringify({ ...counts, writings: ++writings }));
    renameSync(`${file}.next`, file);
  };
  process.on(ASK_SIGNAL, write);
  process.on('exit', write);
}
