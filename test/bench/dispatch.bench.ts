/**
 * Dispatch benchmark: latency from AlarmEvent creation to the emulator receiving it (groupWait 0), at
 * 20 and 200 events/s, and a storm of 10,000 alarms in 60 s to one robot. Runs the operator as a child
 * process against $KUBECONFIG and the emulator; prints the figures and writes them to argv[2].
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import hdr from 'hdr-histogram-js';
import {
  ALARM_EVENT_PLURAL,
  ALARM_RULE_PLURAL,
  API_VERSION,
  DINGTALK_SERVICE_PLURAL,
  GROUP,
  VERSION,
} from '../../operator/api/index.ts';
import { startEmulator } from '../emulator/server.ts';
import { operatorFlags } from '../support/operator-flags.ts';
import { benchSetup } from './bench-setup.ts';

const { resultsPath, kubeconfigPath: kubeconfig, kubeConfig: kc, namespace } = benchSetup('dispatch');
const api = kc.makeApiClient(CustomObjectsApi);
const core = kc.makeApiClient(CoreV1Api);
const emulator = await startEmulator();
await core.createNamespace({ body: { metadata: { name: namespace } } });

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const create = (plural: string, kind: string, name: string, spec: object) =>
  api.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace,
    plural,
    body: { apiVersion: API_VERSION, kind, metadata: { name }, spec },
  });

async function robotRule(name: string, grouping: object) {
  const token = `${name}${'0'.repeat(64)}`.slice(0, 64);
  await emulator.control.putRobot(token, { name });
  await core.createNamespacedSecret({
    namespace,
    body: { metadata: { name }, stringData: { webhook: `${emulator.url}/robot/send?access_token=${token}` } },
  });
  await create(DINGTALK_SERVICE_PLURAL, 'DingTalkService', name, {
    sendTo: ['Group'],
    groups: [{ name, webhook: { name, key: 'webhook' } }],
  });
  await create(ALARM_RULE_PLURAL, 'AlarmRule', name, {
    services: [{ name }],
    match: { sources: [name] },
    grouping,
  });
  return token;
}

function startOperator(): ChildProcess {
  return spawn(
    process.execPath,
    [
      'operator/cli.ts',
      'run',
      '--kubeconfig',
      kubeconfig,
      ...operatorFlags(emulator.url, namespace, ['--log-level', 'error']),
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
}

/** CPU seconds (user + system) and RSS of a process, from /proc. */
function usage(pid: number) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  const ticks = Number(stat[11]) + Number(stat[12]);
  const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
  return { cpuSeconds: ticks / 100, rss };
}

/** Creates `count` events at `perSecond`, spread evenly; returns creation times by title. */
async function raise(source: string, count: number, perSecond: number, concurrency = 32) {
  const created = new Map<string, number>();
  const start = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const due = start + (i * 1000) / perSecond;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      const title = `${source} alarm ${i}`;
      created.set(title, Date.now());
      await create(ALARM_EVENT_PLURAL, 'AlarmEvent', `${source}-${i}`, {
        severity: 'warning',
        title,
        source,
        labels: { alertname: `${source}-${i}` },
      });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { created, seconds: (performance.now() - start) / 1000 };
}

/** When each title first reached the emulator, once all have. */
async function receipts(token: string, source: string, titles: Iterable<string>, timeoutMs: number) {
  const wanted = [...titles];
  // Titles are "<source> alarm <n>"; the marker before them (【WARNING】) is not part of the title.
  const pattern = new RegExp(`(${source} alarm \\d+)(?!\\d)`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const messages = await emulator.control.messages({ robot: token });
    const seen = new Map<string, number>();
    for (const m of messages)
      for (const line of m.text.split('\n')) {
        const title = pattern.exec(line)?.[1];
        if (title && !seen.has(title)) seen.set(title, m.receivedAt);
      }
    if (wanted.every((t) => seen.has(t)) || Date.now() > deadline) return { seen, messages };
    await sleep(500);
  }
}

const operator = startOperator();
const pid = operator.pid as number;
await sleep(3_000);
const lines: string[] = [];
const print = (line: string) => {
  console.log(line);
  lines.push(line);
};

print(
  '## Latency: AlarmEvent creation → emulator receipt (groupWait 0, groupInterval 1s, one robot per rate)',
);
print('');
print('| rate | events | p50 | p99 | max | messages |');
print('|---|---|---|---|---|---|');
for (const [rate, seconds] of [
  [20, 5],
  [200, 5],
] as const) {
  const source = `lat${rate}`;
  const token = await robotRule(source, { groupWait: '0s', groupInterval: '1s', repeatInterval: '4h' });
  await sleep(2_000);
  const { created } = await raise(source, rate * seconds, rate);
  const { seen, messages } = await receipts(token, source, created.keys(), 120_000);
  const histogram = hdr.build();
  for (const [title, at] of created) histogram.recordValue(Math.max(0, (seen.get(title) ?? Date.now()) - at));
  print(
    `| ${rate}/s | ${created.size} | ${histogram.getValueAtPercentile(50)} ms | ${histogram.getValueAtPercentile(99)} ms | ${histogram.maxValue} ms | ${messages.length} |`,
  );
}

print('');
print('## Storm: 10,000 alarms in 60 s to one robot (20 messages/min)');
print('');
const stormToken = await robotRule('storm', {
  groupBy: ['alertname'],
  groupWait: '1s',
  groupInterval: '1s',
  repeatInterval: '4h',
});
await sleep(2_000);
const before = usage(pid);
let peakRss = before.rss;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, usage(pid).rss);
}, 1_000);
const stormStart = Date.now();
const storm = await raise('storm', 10_000, 10_000 / 60, 64);
const { seen, messages } = await receipts(stormToken, 'storm', storm.created.keys(), 900_000);
const allDelivered = Date.now();
clearInterval(sampler);
const after = usage(pid);
const stats = await emulator.control.stats();
const throttled = (stats.robotSends[stormToken] ?? 0) - messages.length - stats.duplicatesSuppressed;
const times = messages.map((m) => m.receivedAt).sort((a, b) => a - b);
let busiest = 0;
for (let i = 0, j = 0; i < times.length; i++) {
  while ((times[i] as number) - (times[j] as number) >= 60_000) j++;
  busiest = Math.max(busiest, i - j + 1);
}
const elapsed = (allDelivered - stormStart) / 1000;
print('| figure | value |');
print('|---|---|');
print(`| alarms created | ${storm.created.size} in ${storm.seconds.toFixed(1)} s |`);
print(`| alarms delivered (listed in a message) | ${seen.size} |`);
print(`| time until all delivered | ${elapsed.toFixed(1)} s from the first creation |`);
print(`| messages used | ${messages.length} (most in any 60 s: ${busiest}) |`);
print(`| throttle answers from the emulator | ${throttled} |`);
print(`| operator peak RSS | ${(peakRss / 2 ** 20).toFixed(0)} MiB |`);
print(
  `| operator CPU | ${(after.cpuSeconds - before.cpuSeconds).toFixed(1)} s over ${elapsed.toFixed(0)} s (${(((after.cpuSeconds - before.cpuSeconds) / elapsed) * 100).toFixed(0)} % of one core) |`,
);

operator.kill('SIGTERM');
await new Promise((resolve) => operator.once('exit', resolve));
await emulator.close();
await core.deleteNamespace({ name: namespace }).catch(() => undefined);

const machine = `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB; the control plane (kube-apiserver, etcd) runs on the same machine and shares the cores with the operator, the emulator and the load generator.`;
writeFileSync(
  resultsPath,
  `# Dispatch benchmark\n\nProduced by \`test/bench/dispatch.bench.ts\` (\`make bench\`). Machine: ${machine}\n\nThe operator runs as a child process (\`dingtalk-operator run\`) against the DingTalk emulator. Latency counts from just before the AlarmEvent create request to the emulator receiving the message listing it.\n\n${lines.join('\n')}\n`,
);
process.exit(0);
