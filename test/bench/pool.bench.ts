/**
 * Robot pool benchmark, against $KUBECONFIG and the DingTalk emulator, with the operator as a child
 * process under the chart's memory limit: the same 10,000 alarms to a group with one robot, then to a
 * group pooling three robots (spec.groups[].robots), once as a live storm created over 60 s and once as
 * a backlog waiting when the operator starts (so the robots' budgets alone set the pace). Every alarm is
 * a group of its own, so the pool spreads them over its robots, and each robot keeps to its 20 messages
 * a minute: the figure is how much sooner the pool has delivered everything, with the messages, the
 * busiest minute per robot and the throttle answers of each run. Prints the figures and writes them to
 * argv[2].
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import {
  ALARM_EVENT_PLURAL,
  ALARM_RULE_PLURAL,
  API_VERSION,
  DINGTALK_SERVICE_PLURAL,
  GROUP,
  VERSION,
} from '../../operator/api/index.ts';
import { startEmulator } from '../emulator/server.ts';
import { busiestMinute } from '../support/busiest-minute.ts';
import { createRetrying } from '../support/create-retrying.ts';
import { operatorFlags } from '../support/operator-flags.ts';
import { benchSetup } from './bench-setup.ts';
import { chartMemoryLimit, deployedEnv, killOnExit, machine, mib, rssSampler } from './process-stats.ts';

const STORM_ALARMS = Number(process.env.BENCH_POOL_ALARMS ?? 10_000);
const STORM_SECONDS = 60;

const { resultsPath, kubeconfigPath: kubeconfig, kubeConfig: kc, namespace } = benchSetup('pool');
const api = kc.makeApiClient(CustomObjectsApi);
const core = kc.makeApiClient(CoreV1Api);
const emulator = await startEmulator();
await core.createNamespace({ body: { metadata: { name: namespace } } });

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const custom = { group: GROUP, version: VERSION, namespace };
const create = (plural: string, kind: string, name: string, spec: object) =>
  createRetrying(() =>
    api.createNamespacedCustomObject({
      ...custom,
      plural,
      body: { apiVersion: API_VERSION, kind, metadata: { name }, spec },
    }),
  );

/** `robots` emulator robots in one group, a service whose group has them (a pool when more than one), a rule. */
async function groupOf(name: string, robots: number): Promise<string[]> {
  const tokens: string[] = [];
  for (let r = 0; r < robots; r++) {
    const token = `${name}r${r}${'0'.repeat(64)}`.slice(0, 64);
    tokens.push(token);
    await emulator.control.putRobot(token, { name });
    await core.createNamespacedSecret({
      namespace,
      body: {
        metadata: { name: `${name}-r${r}` },
        stringData: { webhook: `${emulator.url}/robot/send?access_token=${token}` },
      },
    });
  }
  const webhook = (r: number) => ({ name: `${name}-r${r}`, key: 'webhook' });
  const group =
    robots === 1
      ? { name, webhook: webhook(0) }
      : { name, robots: tokens.map((_, r) => ({ name: `r${r}`, webhook: webhook(r) })) };
  await create(DINGTALK_SERVICE_PLURAL, 'DingTalkService', name, { sendTo: ['Group'], groups: [group] });
  await create(ALARM_RULE_PLURAL, 'AlarmRule', name, {
    services: [{ name }],
    match: { sources: [name] },
    grouping: { groupBy: ['alertname'], groupWait: '1s', groupInterval: '1s', repeatInterval: '4h' },
  });
  for (const plural of [DINGTALK_SERVICE_PLURAL, ALARM_RULE_PLURAL]) {
    for (;;) {
      const obj = (await api.getNamespacedCustomObject({ ...custom, plural, name })) as {
        status?: { conditions?: { type: string; status: string }[] };
      };
      if (obj.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) break;
      await sleep(500);
    }
  }
  return tokens;
}

/** Creates the storm's events at an even rate; returns their titles. */
async function raise(source: string): Promise<{ titles: string[]; seconds: number }> {
  const titles: string[] = [];
  const start = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < STORM_ALARMS) {
      const i = next++;
      const wait = start + (i * STORM_SECONDS * 1000) / STORM_ALARMS - performance.now();
      if (wait > 0) await sleep(wait);
      const title = `${source} alarm ${i}`;
      titles.push(title);
      await create(ALARM_EVENT_PLURAL, 'AlarmEvent', `${source}-${i}`, {
        severity: 'warning',
        title,
        source,
        labels: { alertname: `${source}-${i}` },
      });
    }
  };
  await Promise.all(Array.from({ length: 64 }, worker));
  return { titles, seconds: (performance.now() - start) / 1000 };
}

/** The messages of each robot once every title was received by one of them, and in how many messages each was. */
async function receipts(tokens: string[], source: string, titles: string[], timeoutMs: number) {
  const pattern = new RegExp(`(${source} alarm \\d+)(?!\\d)`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const byRobot = await Promise.all(tokens.map((robot) => emulator.control.messages({ robot })));
    const seen = new Map<string, number>();
    for (const m of byRobot.flat()) {
      // A message may name its alarm on more than one line (heading and body): it counts once.
      const titles = new Set(m.text.split('\n').map((line) => pattern.exec(line)?.[1]));
      for (const title of titles) if (title) seen.set(title, (seen.get(title) ?? 0) + 1);
    }
    if (titles.every((t) => seen.has(t)) || Date.now() > deadline) return { byRobot, seen };
    await sleep(500);
  }
}

async function clearEvents(): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await api.deleteCollectionNamespacedCustomObject({ ...custom, plural: ALARM_EVENT_PLURAL });
      return;
    } catch (err) {
      if (attempt === 3) throw err;
      await sleep(5_000);
    }
  }
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
      { stdio: ['ignore', 'ignore', 'inherit'], env: deployedEnv('operator') },
    ),
  );
}

const lines: string[] = [];
const print = (line: string) => {
  console.log(line);
  lines.push(line);
};
const header = () => {
  print(
    '| robots | created | delivered | shown twice | all delivered after | messages | per robot | most in 60 s per robot | throttled | peak RSS |',
  );
  print('|---|---|---|---|---|---|---|---|---|---|');
};

/** Waits for every alarm to reach a robot; prints the run's row; returns the seconds since `start`. */
async function measure(
  robots: number,
  tokens: string[],
  name: string,
  storm: { titles: string[]; seconds: number },
  start: number,
  peak: () => number,
): Promise<number> {
  const { byRobot, seen } = await receipts(tokens, name, storm.titles, 900_000);
  const seconds = (Date.now() - start) / 1000;
  const stats = await emulator.control.stats();
  const messages = byRobot.flat().length;
  const requests = tokens.reduce((sum, token) => sum + (stats.robotSends[token] ?? 0), 0);
  const twice = [...seen.values()].filter((n) => n > 1).length;
  print(
    `| ${robots} | ${storm.titles.length} in ${storm.seconds.toFixed(1)} s | ${seen.size} | ${twice} | ${seconds.toFixed(1)} s | ${messages} | ${byRobot.map((m) => m.length).join(', ')} | ${byRobot.map(busiestMinute).join(', ')} | ${requests - messages - stats.duplicatesSuppressed} | ${mib(peak())} MiB |`,
  );
  await clearEvents();
  return seconds;
}

const ratio = (elapsed: number[]) => (((elapsed[1] ?? 0) / (elapsed[0] ?? 1)) * 100).toFixed(0);
const alarms = STORM_ALARMS.toLocaleString('en');

let operator = startOperator();
await sleep(3_000);
print(
  `## A live storm: ${alarms} alarms created over ${STORM_SECONDS} s, to one robot and to a pool of three`,
);
print('');
print(
  'Rule: groupBy alertname (every alarm a group of its own), groupWait 1s, groupInterval 1s; 20 messages a minute per robot. Time counts from the first create request. When the machine cannot create the alarms in 60 s, the creates rather than the robots set the pace, and one robot keeps up.',
);
print('');
header();
const live: number[] = [];
for (const robots of [1, 3]) {
  const name = `live${robots}`;
  const tokens = await groupOf(name, robots);
  const rss = rssSampler(operator.pid as number);
  const start = Date.now();
  live.push(await measure(robots, tokens, name, await raise(name), start, rss.peak));
  rss.stop();
}
print('');
print(`The pool of three took ${ratio(live)} % of the time one robot took.`);

async function stopOperator(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

print('');
print(`## A backlog: ${alarms} alarms waiting when the operator starts, to one robot and to a pool of three`);
print('');
print(
  'The same alarms, created while the operator is stopped (as after an outage), so the robots alone set the pace. Time counts from the operator start.',
);
print('');
header();
const backlog: number[] = [];
for (const robots of [1, 3]) {
  const name = `backlog${robots}`;
  const tokens = await groupOf(name, robots);
  await stopOperator(operator);
  const storm = await raise(name);
  const start = Date.now();
  operator = startOperator();
  const rss = rssSampler(operator.pid as number);
  backlog.push(await measure(robots, tokens, name, storm, start, rss.peak));
  rss.stop();
}
print('');
print(`The pool of three took ${ratio(backlog)} % of the time one robot took.`);

await stopOperator(operator);
await emulator.close();
await core.deleteNamespace({ name: namespace }).catch(() => undefined);

writeFileSync(
  resultsPath,
  `# Robot pool benchmark

Produced by \`test/bench/pool.bench.ts\` (\`make bench\`, or \`BENCH=pool bash test/bench/run.sh\`).

- **Machine:** ${machine()}. The control plane (kube-apiserver, etcd) runs on the same machine and shares the
  cores with the operator, the emulator and the load generator.
- **Operator:** \`dingtalk-operator run\` as a child process against the DingTalk emulator, with the chart's memory
  limit (${chartMemoryLimit('operator')}), error-level logs. "Throttled" counts requests a robot answered without showing
  a message or recognising a retry: DingTalk's "too fast" answers.
- **Delivered after** counts to the emulator having received every alarm, from the first create request (live)
  or from the operator's start (backlog).

${lines.join('\n')}
`,
);
process.exit(0);
