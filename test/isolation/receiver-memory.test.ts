import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseQuantity } from '../../operator/runtime/heap.ts';
import { chartMemoryLimit } from '../bench/process-stats.ts';
import { serviceAccountToken } from '../receiver/support.ts';
import { type ChartProcess, startChartCommand } from '../support/chart-command.ts';
import { createTestNamespace, eventually, testKubeConfig } from '../support/kube.ts';

/**
 * What tenants can make the receiver hold, in a process of its own started as the chart starts it: the
 * chart's flags and its heap sized from the chart's memory limit. The receiver has no namespace list: it
 * serves every namespace in any mode, so the run's shared control plane is as the chart's default mode has it. Two attacking namespaces post bodies
 * that cost many times their size once parsed (16 MiB of empty alerts took the receiver past its heap:
 * V8 aborted and every connection was reset) and real payloads, several at once; the receiver stays up,
 * answers each, peaks under the chart's limit, and a third namespace's alarm is still stored.
 */

const MiB = 2 ** 20;
const LIMIT = chartMemoryLimit('receiver');

let receiver: ChartProcess;
let url: string;
const namespaces: { name: string; cleanup: () => Promise<void> }[] = [];
const tokens: string[] = [];

beforeAll(async () => {
  const kubeConfig = testKubeConfig();
  for (const prefix of ['mem-a', 'mem-b', 'mem-victim']) {
    const namespace = await createTestNamespace(prefix);
    namespaces.push(namespace);
    tokens.push(await serviceAccountToken(kubeConfig, namespace.name, 'alertmanager', { mayCreate: true }));
  }
  receiver = await startChartCommand('receiver');
  url = receiver.url;
  await eventually(async () => ((await fetch(`${url}/healthz`)).ok ? true : undefined), {
    timeoutMs: 60_000,
  });
});

afterAll(async () => {
  await receiver?.stop();
  await Promise.all(namespaces.map((namespace) => namespace.cleanup()));
});

describe('receiver memory under hostile payloads', () => {
  it('answers every body with 4xx or 503 or 202, stays up and peaks under the chart limit', async () => {
    const [a, b, victim] = [0, 1, 2].map((i) => ({
      url: `${url}/api/v1/namespaces/${namespaces[i]?.name}/alertmanager`,
      token: tokens[i] as string,
    })) as [Target, Target, Target];

    // Empty alerts as large as the previous bound: 5.6 million objects once parsed.
    const empty = await post(a, emptyAlerts(16 * MiB - 64), { overBound: true });
    expect(empty.status, empty.text).toSatisfy(refusal);

    const large = await Promise.all(
      [a, a, b, b].map((target, i) =>
        post(target, realAlerts(16 * MiB - 1024, i * 100_000), { overBound: true }),
      ),
    );
    for (const answer of large) expect(answer.status, answer.text).toSatisfy(refusal);
    // Still up: a crash would also show as connections reset.
    expect((await fetch(`${url}/healthz`)).ok).toBe(true);

    // At the default bound, bodies are read: empty alerts are counted before they are parsed…
    const emptyAtBound = await post(a, emptyAlerts(4 * MiB - 64));
    expect(emptyAtBound.status, emptyAtBound.text).toBe(503);
    expect(emptyAtBound.json?.code).toBe('RCV_ERR_TOO_MANY_ALERTS');

    // …and real payloads, eight at once from two namespaces, are held as far as the bounds allow.
    const atBound = await Promise.all(
      [a, a, a, a, b, b, b, b].map((target, i) =>
        post(target, realAlerts(4 * MiB - 1024, 1_000_000 + i * 100_000)),
      ),
    );
    for (const answer of atBound) expect(answer.status, answer.text).toSatisfy(storedOrRetried);
    const codes = atBound.map((answer) => answer.json?.code ?? answer.status);

    const alarm = await post(victim, realAlerts(4 * 1024, 9_000_000));
    expect(alarm.status, alarm.text).toBe(202);

    const peak = peakRss(receiver.pid as number);
    // Read by a human in the test's output: the figures behind the docs.
    console.log(`receiver peak RSS ${(peak / MiB).toFixed(0)} MiB (limit ${LIMIT}); at the bound: ${codes}`);
    expect(peak).toBeLessThan(parseQuantity(LIMIT) as number);
  }, 600_000);
});

interface Target {
  url: string;
  token: string;
}

interface Answer {
  status: number;
  text: string;
  json?: { code?: string };
}

/**
 * What Alertmanager keeps the group on (503) or gives up on (4xx): anything but a crash or a 500. A body
 * refused by its length is not read, so the refusal may reach a client still sending it as a reset
 * (RESET_WHILE_SENDING); the health check after each such phase tells that from a crash.
 */
const RESET_WHILE_SENDING = 0;
const refusal = (status: number) =>
  status === RESET_WHILE_SENDING || status === 503 || (status >= 400 && status < 500);
/** Stored, or to be retried: busy, over the answer deadline or the namespace's rate. */
const storedOrRetried = (status: number) => status === 202 || status === 503 || status === 429;

/**
 * POSTs a body over a connection of its own. The answer may come before the body is sent whole (a body
 * refused by its length is not read): an error writing the rest after that is no failure. A connection
 * reset before any answer is, unless the body is over the receiver's bound (`overBound`): then the
 * refusal and the reset may cross.
 */
function post(target: Target, body: Buffer, { overBound = false } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = request(
      target.url,
      {
        method: 'POST',
        headers: {
          authorization: `Bearer ${target.token}`,
          'content-type': 'application/json',
          'content-length': body.length,
        },
      },
      (response) => {
        answered = true;
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk) => {
          text += chunk;
        });
        response.on('end', () => {
          let json: Answer['json'];
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: response.statusCode ?? 0, text: text.slice(0, 500), json });
        });
        response.on('error', reject);
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (answered) return;
      if (overBound && (err.code === 'EPIPE' || err.code === 'ECONNRESET')) {
        resolve({ status: RESET_WHILE_SENDING, text: `${err.code} while sending a body over the bound` });
      } else reject(err);
    });
    req.end(body);
  });
}

/** An Alertmanager payload of `{}` alerts, `bytes` long. */
function emptyAlerts(bytes: number): Buffer {
  const head = '{"version":"4","alerts":[';
  const count = Math.floor((bytes - head.length - 2) / 3);
  return Buffer.from(`${head}${'{},'.repeat(count - 1)}{}]}`);
}

/**
 * An Alertmanager payload of kube-prometheus alerts (KubePodCrashLooping: 12 labels, 3 annotations, a
 * generator URL), at most `bytes` long, each alert new (fingerprints from `from` on).
 */
function realAlerts(bytes: number, from: number): Buffer {
  const head = '{"version":"4","status":"firing","receiver":"dingtalk","groupLabels":{},"alerts":[';
  const parts: string[] = [];
  let size = head.length + 2;
  for (let i = from; ; i++) {
    const alert = JSON.stringify({
      status: 'firing',
      labels: {
        alertname: 'KubePodCrashLooping',
        severity: 'warning',
        namespace: `team-${i % 50}`,
        pod: `api-${i}`,
        container: 'api',
        job: 'kube-state-metrics',
        instance: '10.244.1.17:8080',
        endpoint: 'http',
        service: 'kube-prometheus-stack-kube-state-metrics',
        prometheus: 'monitoring/kube-prometheus-stack-prometheus',
        reason: 'CrashLoopBackOff',
        uid: `5b7c2a9e-0d4f-4c1e-9a7b-${i.toString(16).padStart(12, '0')}`,
      },
      annotations: {
        summary: 'Pod is crash looping.',
        description: `Pod team-${i % 50}/api-${i} (api) is in waiting state (reason: "CrashLoopBackOff").`,
        runbook_url: 'https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubepodcrashlooping',
      },
      startsAt: '2026-05-01T08:00:00.123456789Z',
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL:
        'http://prometheus.monitoring:9090/graph?g0.expr=max_over_time%28kube_pod_container_status_waiting_reason%5B5m%5D%29&g0.tab=1',
      fingerprint: i.toString(16).padStart(16, '0'),
    });
    if (size + alert.length + 1 > bytes) break;
    parts.push(alert);
    size += alert.length + 1;
  }
  return Buffer.from(`${head}${parts.join(',')}]}`);
}

/** The most the process has had resident since it started (its last exec), from the kernel. */
function peakRss(pid: number): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmHWM for process ${pid}`);
  return Number(match[1]) * 1024;
}
