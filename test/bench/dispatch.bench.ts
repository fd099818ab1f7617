/**
 * Dispatch benchmark, against $KUBECONFIG and the DingTalk emulator, with the operator as a child process
 * under the chart's memory limit:
 * - pipeline overhead: AlarmEvent creation → emulator receipt for alarms a rule sends at once (groupWait 0,
 *   a group of their own each, robots with budget to spare, spread over 10 robots), at 5 and 50 events/s;
 * - policy + pipeline: the same with groupInterval 1s and one robot, at 20 and 200 events/s;
 * - three storms in a row of 10,000 alarms in 60 s to one robot each: first message, messages used, all
 *   delivered, throttles, and the operator's memory during and after each storm.
 * Prints the figures and writes them to argv[2].
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
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
import { createRetrying } from '../support/create-retrying.ts';
import { operatorFlags } from '../support/operator-flags.ts';
import { benchSetup } from './bench-setup.ts';
import {
  byKey,
  type KubeTraffic,
  kubeTrafficEnv,
  readKubeTraffic,
  since,
  totalConnections,
  totalRequests,
} from './kube-traffic.ts';
import {
  chartMemoryLimit,
  cpuByThread,
  deployedEnv,
  heapSnapshotEnv,
  killOnExit,
  machine,
  mib,
  rssSampler,
  usage,
  writeHeapSnapshot,
} from './process-stats.ts';

const OVERHEAD_GOAL_MS = 100;
const STORM_MEMORY_GOAL_MIB = 200;
const STORM_ALARMS = 10_000;
const STORM_SECONDS = 60;
/** Three storms show whether memory grows from one to the next; BENCH_STORMS runs fewer for a quick look. */
const STORMS = Number(process.env.BENCH_STORMS ?? 3);
const STORM_GROUP_WAIT_S = 1;
/** The most a DingTalk text message may carry, in bytes (operator/dingtalk/trim.ts). */
const MESSAGE_BYTES = 20_000;

const { resultsPath, kubeconfigPath: kubeconfig, kubeConfig: kc, namespace } = benchSetup('dispatch');
const api = kc.makeApiClient(CustomObjectsApi);
const core = kc.makeApiClient(CoreV1Api);
const emulator = await startEmulator();
await core.createNamespace({ body: { metadata: { name: namespace } } });

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const create = (plural: string, kind: string, name: string, spec: object) =>
  createRetrying(() =>
    api.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural,
      body: { apiVersion: API_VERSION, kind, metadata: { name }, spec },
    }),
  );

/** A robot, its Secret, a DingTalkService sending to it and a rule sending alarms of `source` there. */
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

/** Waits until the named DingTalkServices and AlarmRules are Ready, so latency counts alarms only. */
async function untilReady(names: string[], timeoutMs = 180_000) {
  const deadline = Date.now() + timeoutMs;
  for (const plural of [DINGTALK_SERVICE_PLURAL, ALARM_RULE_PLURAL]) {
    for (;;) {
      const list = (await api.listNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace,
        plural,
      })) as {
        items: { metadata: { name: string }; status?: { conditions?: { type: string; status: string }[] } }[];
      };
      const ready = new Set(
        list.items
          .filter((i) => i.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
          .map((i) => i.metadata.name),
      );
      if (names.every((n) => ready.has(n))) break;
      if (Date.now() > deadline)
        throw new Error(`${plural} not Ready in time: ${names.filter((n) => !ready.has(n))}`);
      await sleep(500);
    }
  }
}

/**
 * Deletes the namespace's AlarmEvents once a phase is delivered, as their sources would: the TTL sweep
 * keeps firing events however long they fire, and each storm is to start from the state the last left.
 */
async function clearEvents(): Promise<void> {
  // Deleting 10,000 events can outlast the API server's request timeout on a loaded machine, which then
  // resets the stream; what it had not deleted yet, the next call does.
  for (let attempt = 1; ; attempt++) {
    try {
      await api.deleteCollectionNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace,
        plural: ALARM_EVENT_PLURAL,
      });
      return;
    } catch (err) {
      if (attempt === 3) throw err;
      await sleep(5_000);
    }
  }
}

const traffic = kubeTrafficEnv(kc.getCurrentCluster()?.server ?? '', {
  ...deployedEnv('operator'),
  ...heapSnapshotEnv(),
});
/** The operator's API requests and connections in each phase, from its first alarm to its last delivered. */
const trafficRows: string[] = [];
function trafficRow(phase: string, alarms: number, before: KubeTraffic, after: KubeTraffic) {
  const t = since(before, after);
  trafficRows.push(
    `| ${phase} | ${alarms} | ${totalRequests(t)} | ${(totalRequests(t) / alarms).toFixed(2)} | ${byKey(t.resources)} | ${byKey(t.answers)} | ${totalConnections(t)} |`,
  );
}

function startOperator(): ChildProcess {
  return killOnExit(
    spawn(
      process.execPath,
      [
        'operator/cli.ts',
        'run',
        '--kubeconfig',
        kubeconfig,
        ...operatorFlags(emulator.url, namespace, ['--log-level', 'error']),
      ],
      { stdio: ['ignore', 'ignore', 'inherit'], env: traffic.env },
    ),
  );
}

/**
 * Creates `count` events at `perSecond`, spread evenly, source by source in turn; returns creation
 * times by title and the source of each title.
 */
async function raise(sources: string[], prefix: string, count: number, perSecond: number, concurrency = 32) {
  const created = new Map<string, number>();
  const start = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const due = start + (i * 1000) / perSecond;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      const source = sources[i % sources.length] as string;
      const title = `${prefix} alarm ${i}`;
      created.set(title, Date.now());
      await create(ALARM_EVENT_PLURAL, 'AlarmEvent', `${prefix}-${i}`, {
        severity: 'warning',
        title,
        source,
        labels: { alertname: `${prefix}-${i}` },
      });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { created, seconds: (performance.now() - start) / 1000 };
}

/** When each title first reached one of the robots, once all have; and the lines that listed them. */
async function receipts(tokens: string[], prefix: string, titles: Iterable<string>, timeoutMs: number) {
  const wanted = [...titles];
  // Titles are "<prefix> alarm <n>"; the marker before them (【WARNING】) is not part of the title.
  const pattern = new RegExp(`(${prefix} alarm \\d+)(?!\\d)`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const messages = (await Promise.all(tokens.map((robot) => emulator.control.messages({ robot })))).flat();
    const seen = new Map<string, number>();
    let digestBytes = 0;
    for (const m of messages)
      for (const line of m.text.split('\n')) {
        const title = pattern.exec(line)?.[1];
        if (!title) continue;
        digestBytes += Buffer.byteLength(line) + 1;
        if (!seen.has(title)) seen.set(title, m.receivedAt);
      }
    if (wanted.every((t) => seen.has(t)) || Date.now() > deadline) return { seen, messages, digestBytes };
    await sleep(500);
  }
}

function latencyRow(
  label: string,
  created: Map<string, number>,
  seen: Map<string, number>,
  messages: number,
) {
  const histogram = hdr.build();
  for (const [title, at] of created) histogram.recordValue(Math.max(0, (seen.get(title) ?? Date.now()) - at));
  return {
    p99: histogram.getValueAtPercentile(99),
    row: `| ${label} | ${created.size} | ${seen.size} | ${histogram.getValueAtPercentile(50)} ms | ${histogram.getValueAtPercentile(99)} ms | ${histogram.maxValue} ms | ${messages} |`,
  };
}

const operator = startOperator();
const pid = operator.pid as number;
await sleep(3_000);
const lines: string[] = [];
const print = (line: string) => {
  console.log(line);
  lines.push(line);
};
const met = (ok: boolean) => (ok ? 'met' : '**not met**');

print(
  '## Pipeline overhead: alarms sent at once (groupWait 0, a group each, 10 robots with budget to spare)',
);
print('');
print(
  `Goal: p99 ≤ ${OVERHEAD_GOAL_MS} ms from the AlarmEvent create request to the emulator receiving the message.`,
);
print('');
print('| rate | events | delivered | p50 | p99 | max | messages | goal |');
print('|---|---|---|---|---|---|---|---|');
// Each robot takes at most 15 messages here, below DingTalk's 20 a minute, so no budget ever waits.
for (const [rate, seconds] of [
  [5, 6],
  [50, 3],
] as const) {
  const sources = Array.from({ length: 10 }, (_, i) => `now${rate}-${i}`);
  const tokens: string[] = [];
  for (const source of sources) {
    tokens.push(
      await robotRule(source, {
        groupBy: ['alertname'],
        groupWait: '0s',
        groupInterval: '1s',
        repeatInterval: '4h',
      }),
    );
  }
  await untilReady(sources);
  const prefix = `now${rate}`;
  const before = await readKubeTraffic(traffic.file, operator);
  const { created } = await raise(sources, prefix, rate * seconds, rate);
  const { seen, messages } = await receipts(tokens, prefix, created.keys(), 120_000);
  trafficRow(`overhead ${rate}/s`, created.size, before, await readKubeTraffic(traffic.file, operator));
  const { p99, row } = latencyRow(`${rate}/s`, created, seen, messages.length);
  print(`${row} ${met(p99 <= OVERHEAD_GOAL_MS)} |`);
}

print('');
print('## Policy + pipeline: groupWait 0, groupInterval 1s, one robot per rate');
print('');
print('Later alarms of a group wait for its next groupInterval, so this includes that wait by design.');
print('');
print('| rate | events | delivered | p50 | p99 | max | messages |');
print('|---|---|---|---|---|---|---|');
for (const [rate, seconds] of [
  [20, 5],
  [200, 5],
] as const) {
  const source = `lat${rate}`;
  const token = await robotRule(source, { groupWait: '0s', groupInterval: '1s', repeatInterval: '4h' });
  await untilReady([source]);
  const before = await readKubeTraffic(traffic.file, operator);
  const { created } = await raise([source], source, rate * seconds, rate);
  const { seen, messages } = await receipts([token], source, created.keys(), 120_000);
  trafficRow(`policy ${rate}/s`, created.size, before, await readKubeTraffic(traffic.file, operator));
  print(latencyRow(`${rate}/s`, created, seen, messages.length).row);
}

await clearEvents();
print('');
print(
  `## Storms: ${STORMS} in a row, each ${STORM_ALARMS.toLocaleString('en')} alarms in ${STORM_SECONDS} s to one robot (20 messages/min)`,
);
print('');
print(
  `Rule: groupBy alertname (every alarm a group of its own), groupWait ${STORM_GROUP_WAIT_S}s, groupInterval 1s. Goals: first message ≤ groupWait + 2 s after the first alarm; messages ≤ ⌈digest bytes / ${MESSAGE_BYTES.toLocaleString('en')}⌉ + 5; every alarm delivered; no throttle answer; operator peak RSS ≤ ${STORM_MEMORY_GOAL_MIB} MiB and no growth from storm to storm.`,
);
print('');
print(
  '| storm | created | delivered | all delivered after | first message after | messages (goal) | most in 60 s | throttled | peak RSS | RSS when delivered | operator CPU |',
);
print('|---|---|---|---|---|---|---|---|---|---|---|');
const rss = rssSampler(pid);
const storms: { peak: number; delivered: boolean; first: number; messagesOk: boolean; throttled: number }[] =
  [];
for (let n = 1; n <= STORMS; n++) {
  const name = `storm${n}`;
  const token = await robotRule(name, {
    groupBy: ['alertname'],
    groupWait: `${STORM_GROUP_WAIT_S}s`,
    groupInterval: '1s',
    repeatInterval: '4h',
  });
  await untilReady([name]);
  const trafficBefore = await readKubeTraffic(traffic.file, operator);
  const before = usage(pid);
  const threadsBefore = cpuByThread(pid);
  rss.reset();
  const stormStart = Date.now();
  const storm = await raise([name], name, STORM_ALARMS, STORM_ALARMS / STORM_SECONDS, 64);
  const { seen, messages, digestBytes } = await receipts([token], name, storm.created.keys(), 900_000);
  const allDelivered = Date.now();
  const after = usage(pid);
  const threadsAfter = cpuByThread(pid);
  const peak = rss.peak();
  trafficRow(`storm ${n}`, storm.created.size, trafficBefore, await readKubeTraffic(traffic.file, operator));
  // With BENCH_HEAP_SNAPSHOT_DIR: what each storm leaves live once all of it is delivered, to tell a leak
  // from a heap V8 lets grow.
  await writeHeapSnapshot(operator);
  const stats = await emulator.control.stats();
  const throttled = (stats.robotSends[token] ?? 0) - messages.length - stats.duplicatesSuppressed;
  const times = messages.map((m) => m.receivedAt).sort((a, b) => a - b);
  let busiest = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while ((times[i] as number) - (times[j] as number) >= 60_000) j++;
    busiest = Math.max(busiest, i - j + 1);
  }
  const first = ((times[0] ?? allDelivered) - stormStart) / 1000;
  const messagesGoal = Math.ceil(digestBytes / MESSAGE_BYTES) + 5;
  const elapsed = (allDelivered - stormStart) / 1000;
  const cpu = after.cpuSeconds - before.cpuSeconds;
  storms.push({
    peak,
    delivered: seen.size === storm.created.size,
    first,
    messagesOk: messages.length <= messagesGoal,
    throttled,
  });
  print(
    `| ${n} | ${storm.created.size} in ${storm.seconds.toFixed(1)} s | ${seen.size} | ${elapsed.toFixed(1)} s | ${first.toFixed(1)} s | ${messages.length} (≤ ${messagesGoal}) | ${busiest} | ${throttled} | ${mib(peak)} MiB | ${mib(after.rss)} MiB | ${cpu.toFixed(1)} s (${((cpu / elapsed) * 100).toFixed(0)} % of one core; main thread ${(threadsAfter.main - threadsBefore.main).toFixed(1)} s, V8 workers ${(threadsAfter.v8Workers - threadsBefore.v8Workers).toFixed(1)} s, rest ${(threadsAfter.rest - threadsBefore.rest).toFixed(1)} s) |`,
  );
  await clearEvents();
}
// Every storm's events are being deleted; wait until the API server has none left.
const emptyBy = Date.now() + 5 * 60_000;
let left = Number.POSITIVE_INFINITY;
while (left > 0 && Date.now() < emptyBy) {
  await sleep(5_000);
  const list = (await api.listNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace,
    plural: ALARM_EVENT_PLURAL,
  })) as { items: unknown[] };
  left = list.items.length;
}
const settled = usage(pid).rss;
rss.stop();
const peaks = storms.map((s) => s.peak);
const growth = Math.max(...peaks) - (peaks[0] ?? 0);
print('');
print('| storm goal | result |');
print('|---|---|');
print(
  `| first message ≤ ${STORM_GROUP_WAIT_S + 2} s | ${met(storms.every((s) => s.first <= STORM_GROUP_WAIT_S + 2))} |`,
);
print(`| messages within ⌈digest bytes / 20,000⌉ + 5 | ${met(storms.every((s) => s.messagesOk))} |`);
print(`| every alarm delivered | ${met(storms.every((s) => s.delivered))} |`);
print(`| no throttle answer | ${met(storms.every((s) => s.throttled === 0))} |`);
print(
  `| operator peak RSS ≤ ${STORM_MEMORY_GOAL_MIB} MiB | ${Math.max(...peaks) <= STORM_MEMORY_GOAL_MIB * 2 ** 20 ? 'met' : '**not met**'} (highest ${mib(Math.max(...peaks))} MiB) |`,
);
print(
  `| flat over the storms | peaks ${peaks.map((p) => mib(p)).join(', ')} MiB (growth ${mib(growth)} MiB); ${left} AlarmEvents left after deletion, RSS then ${mib(settled)} MiB |`,
);

const whole = await readKubeTraffic(traffic.file, operator);
print('');
print("## The operator's API server traffic");
print('');
print(
  "Counted inside the operator process from undici's diagnostics channels (test/bench/kube-traffic.ts), for the API server's origin only, from just before each phase's first alarm is created until its last is seen delivered; a retried call counts once per attempt.",
);
print('');
print(
  '| phase | alarms | API requests | per alarm | by method and resource | answers | connections opened |',
);
print('|---|---|---|---|---|---|---|');
for (const row of trafficRows) print(row);
print('');
print(
  `Whole run, start-up and the robots' services and rules included: ${totalRequests(whole).toLocaleString('en')} requests (${byKey(whole.requests)}; ${whole.watches} watches), ${totalConnections(whole)} connections (${byKey(whole.connections)}; ${whole.resumed} resumed a TLS session; ${whole.connectErrors} failed).`,
);

operator.kill('SIGTERM');
await new Promise((resolve) => operator.once('exit', resolve));
await emulator.close();
await core.deleteNamespace({ name: namespace }).catch(() => undefined);

writeFileSync(
  resultsPath,
  `# Dispatch benchmark

Produced by \`test/bench/dispatch.bench.ts\` (\`make bench\`).

- **Machine:** ${machine()}. The control plane (kube-apiserver, etcd) runs on the same machine and shares the
  cores with the operator, the emulator and the load generator.
- **Operator:** \`dingtalk-operator run\` as a child process against the DingTalk emulator, with the chart's memory
  limit (${chartMemoryLimit('operator')}, so its heap is sized as in the cluster), error-level logs; the bench deletes each phase's
  AlarmEvents once they are delivered (the TTL sweep keeps firing ones).
- **Latency** counts from just before the AlarmEvent create request to the emulator receiving the message
  listing it.

${lines.join('\n')}
`,
);
process.exit(0);
