import { writeFileSync } from 'node:fs';
import { CoreV1Api } from '@kubernetes/client-node';
import { request } from 'undici';
import { loadReceiverConfig } from '../../operator/receiver/config.ts';
import { serviceAccountToken } from '../receiver/support.ts';
import { benchSetup } from './bench-setup.ts';
import { chartMemoryLimit, machine, mib, rssSampler, usage } from './process-stats.ts';
import { startReceiver } from './receiver-process.ts';

/**
 * One Alertmanager notification of a whole alert group, as large as a storm makes it within the default
 * --max-alert-payload-bytes: 4,000 kube-prometheus alerts in one payload, posted to the `receiver` command (default flags, the chart's memory limit, compiled code
 * cached as in the image) and retried on 503 as Alertmanager does until 202; then the same payload again
 * (Alertmanager re-sends the group every group_interval); then payloads as large as
 * --max-alert-payload-bytes allows, of kube-prometheus alerts (KubePodCrashLooping: 12 labels,
 * 3 annotations, a generator URL) and of two-label alerts, the most alerts (and objects) the bound lets in.
 * Figures: bytes per alert, time to the first answer and to 202, alarms/s stored, receiver RSS.
 *
 * usage: node test/bench/alert-payload.bench.ts <results.md>   (test/bench/run.sh provides both)
 */

const STORM = 4_000;
const { resultsPath, kubeconfigPath, kubeConfig, namespace } = benchSetup('alert-payload');
const defaults = loadReceiverConfig({ argv: [], env: {} });

function alert(i: number) {
  const pod = `api-server-7d9f8b6c4-${i.toString(36).padStart(5, 'x')}`;
  return {
    status: 'firing',
    labels: {
      alertname: 'KubePodCrashLooping',
      container: 'api',
      endpoint: 'http',
      instance: `10.1.${(i >> 8) & 255}.${i & 255}:8080`,
      job: 'kube-state-metrics',
      namespace: 'production',
      pod,
      prometheus: 'monitoring/k8s',
      reason: 'CrashLoopBackOff',
      service: 'kube-state-metrics',
      severity: 'warning',
      uid: `3f2b${i.toString(16).padStart(8, '0')}-1c2d-4e5f-8a9b-0c1d2e3f4a5b`,
    },
    annotations: {
      description: `Pod production/${pod} (api) is in waiting state (reason: "CrashLoopBackOff") for more than 15 minutes.`,
      runbook_url: 'https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubepodcrashlooping',
      summary: 'Pod is crash looping.',
    },
    startsAt: '2026-05-01T08:00:00.123456789Z',
    endsAt: '0001-01-01T00:00:00Z',
    generatorURL:
      'http://prometheus-k8s-0:9090/graph?g0.expr=max_over_time%28kube_pod_container_status_waiting_reason%7Bjob%3D%22kube-state-metrics%22%2Creason%3D%22CrashLoopBackOff%22%7D%5B5m%5D%29+%3E%3D+1&g0.tab=1',
    fingerprint: i.toString(16).padStart(16, '0'),
  };
}

/** The smallest alert a rule makes: two labels and a summary, as in test/alertmanager's storm. */
function smallAlert(i: number) {
  const host = `h${String(i).padStart(6, '0')}`;
  return {
    status: 'firing',
    labels: { alertname: 'KubePodCrashLooping', instance: host },
    annotations: { summary: host },
    startsAt: '2026-05-01T08:00:00.123456789Z',
    endsAt: '0001-01-01T00:00:00Z',
    generatorURL: '',
    fingerprint: i.toString(16).padStart(16, '0'),
  };
}

/** Alertmanager's webhook payload, as its notifier writes it. */
function payload(from: number, count: number, shape: (i: number) => object = alert): string {
  return JSON.stringify({
    receiver: 'dingtalk',
    status: 'firing',
    alerts: Array.from({ length: count }, (_, i) => shape(from + i)),
    groupLabels: { alertname: 'KubePodCrashLooping' },
    commonLabels: { alertname: 'KubePodCrashLooping' },
    commonAnnotations: {},
    externalURL: 'http://alertmanager-main:9093',
    version: '4',
    groupKey: '{}:{alertname="KubePodCrashLooping"}',
    truncatedAlerts: 0,
  });
}

interface Delivery {
  alerts: number;
  bytes: number;
  firstStatus: number;
  firstMs: number;
  attempts: number;
  totalMs: number;
  peakRss: number;
}

/**
 * Posts until 202, retrying 503 after Alertmanager's first backoff (about 0.5 s); with `once`, only the
 * first request (what the payload costs the receiver in memory shows there).
 */
async function deliver(
  port: number,
  token: string,
  pid: number,
  body: string,
  alerts: number,
  once = false,
): Promise<Delivery> {
  const rss = rssSampler(pid, 50);
  const start = performance.now();
  let first: { status: number; ms: number } | undefined;
  let attempts = 0;
  for (;;) {
    attempts++;
    const response = await request(`http://127.0.0.1:${port}/api/v1/alertmanager`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body,
      headersTimeout: 120_000,
      bodyTimeout: 120_000,
    });
    await response.body.text();
    first ??= { status: response.statusCode, ms: performance.now() - start };
    if (response.statusCode === 202 || (once && response.statusCode === 503)) break;
    if (response.statusCode !== 503 || attempts > 1_000) throw new Error(`answered ${response.statusCode}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const peakRss = rss.peak();
  rss.stop();
  return {
    alerts,
    bytes: Buffer.byteLength(body),
    firstStatus: first.status,
    firstMs: first.ms,
    attempts,
    totalMs: performance.now() - start,
    peakRss,
  };
}

/** The payload of alerts from `from` on that is as large as --max-alert-payload-bytes lets in. */
function largestPayload(from: number, shape: (i: number) => object): [string, number] {
  const limit = defaults.maxAlertPayloadBytes;
  let count = Math.floor(limit / (payload(from, 1000, shape).length / 1000));
  for (;;) {
    const body = payload(from, count, shape);
    const over = Buffer.byteLength(body) - limit;
    if (over <= 0) return [body, count];
    count -= Math.ceil(over / (body.length / count)) + 1;
  }
}

async function main(): Promise<void> {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  const token = await serviceAccountToken(kubeConfig, namespace, 'alertmanager', { mayCreate: true });
  const { child: receiver, port } = await startReceiver({
    kubeconfigPath,
    namespace,
    args: ['--log-level=warn'],
  });
  const pid = receiver.pid as number;
  // Settled after start, as a pod is before its first notification.
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  const idleRss = usage(pid).rss;

  const storm = payload(0, STORM);
  const first = await deliver(port, token, pid, storm, STORM);
  const repeat = await deliver(port, token, pid, storm, STORM);
  const perAlert = first.bytes / STORM;
  // The largest payloads the default bound takes, of alerts not stored yet.
  const bound = await deliver(port, token, pid, ...largestPayload(STORM, alert), true);
  const smallPerAlert = payload(0, 1000, smallAlert).length / 1000;
  const small = await deliver(port, token, pid, ...largestPayload(STORM + bound.alerts, smallAlert), true);
  const { cpuSeconds } = usage(pid);
  const onMachine = machine();
  receiver.kill('SIGTERM');
  await new Promise((resolve) => receiver.once('exit', resolve));
  await core.deleteNamespace({ name: namespace }).catch(() => undefined);

  const s = (ms: number) => (ms / 1000).toFixed(1);
  const row = (name: string, d: Delivery, stored: number) =>
    `| ${name} | ${d.alerts.toLocaleString('en')} | ${(d.bytes / (1 << 20)).toFixed(1)} MiB | ${d.firstStatus} after ${s(d.firstMs)} s | ${d.attempts} | ${d.firstStatus === 202 || d.attempts > 1 ? `${s(d.totalMs)} s` : '—'} | ${stored === 0 ? '—' : (stored / (d.totalMs / 1000)).toFixed(0)} | ${mib(d.peakRss)} MiB |`;
  const markdown = `# Alertmanager payload benchmark

One Alertmanager notification carrying a whole alert group, through \`dingtalk-operator receiver\` (its own
process, default flags but for the per-namespace rate, set out of the way: --answer-deadline ${defaults.answerDeadline / 1000}s, --write-concurrency ${defaults.writeConcurrency},
--max-alert-payload-bytes ${defaults.maxAlertPayloadBytes}; the chart's memory limit ${chartMemoryLimit('receiver')} and the image's compile cache),
retried on 503 after 0.5 s as Alertmanager does, until 202.

- **Machine:** ${onMachine}. The local control plane (kube-apiserver + etcd) and this load generator run on
  the same cores; other work shares the machine, so times vary from run to run.
- **Alerts:** kube-prometheus's KubePodCrashLooping (12 labels, 3 annotations, a generator URL):
  **${perAlert.toFixed(0)} bytes per alert** in Alertmanager's JSON; a two-label alert with a summary:
  **${smallPerAlert.toFixed(0)} bytes per alert**.
- Receiver RSS idle after start: ${mib(idleRss)} MiB; CPU over the whole run: ${cpuSeconds.toFixed(1)} s.

| payload | alerts | size | first answer | requests | time to 202 | alarms stored/s | receiver peak RSS |
|---|---|---|---|---|---|---|---|
${row('4,000 new alerts', first, STORM)}
${row('the same again (a repost)', repeat, 0)}
${row('new kube-prometheus alerts, as large as the bound (first request only)', bound, 0)}
${row('new two-label alerts, as large as the bound (first request only)', small, 0)}

A 503 is the answer deadline: what was stored stays stored, and the retry stores the rest (what this
receiver stored lately costs no API call, so a repost is answered from memory). The payloads at the bound
are posted once: their first request is where the receiver holds the whole payload, parsed and checked.
`;
  writeFileSync(resultsPath as string, markdown);
  process.stdout.write(`${markdown}\n`);
}

await main();
