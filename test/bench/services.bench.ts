import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, totalmem } from 'node:os';
import path from 'node:path';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { DINGTALK_SERVICE_PLURAL, GROUP, VERSION } from '../../operator/api/index.ts';
import { startEmulator } from '../emulator/server.ts';
import { benchSetup } from './bench-setup.ts';

/**
 * DingTalkService validation at scale: SERVICES services, sharing APPS enterprise apps (and one group
 * robot), are created first; then `dingtalk-operator run` starts as its own process against the API
 * server in $KUBECONFIG and the DingTalk emulator. Figures: time from the operator's start until every
 * service is Ready, token requests DingTalk saw (one per app is the goal), user lookups, operator RSS.
 *
 * usage: node test/bench/services.bench.ts <results.md>   (test/bench/run.sh provides both)
 */

const SERVICES = 1000;
const APPS = 10;
const CREATE_CONCURRENCY = 16;

const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const { resultsPath, kubeconfigPath, kubeConfig, namespace } = benchSetup('services');
const core = kubeConfig.makeApiClient(CoreV1Api);
const custom = kubeConfig.makeApiClient(CustomObjectsApi);
const resource = { group: GROUP, version: VERSION, plural: DINGTALK_SERVICE_PLURAL, namespace };
const hex = (bytes: number) => randomBytes(bytes).toString('hex');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : 0;
}

async function inParallel<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: limit }, worker));
}

function startOperator(emulatorUrl: string, healthPort: number): ChildProcess {
  return spawn(
    process.execPath,
    [
      path.join(repoRoot, 'operator/cli.ts'),
      'run',
      `--kubeconfig=${kubeconfigPath}`,
      `--namespaces=${namespace}`,
      `--dingtalk-robot-url=${emulatorUrl}`,
      `--dingtalk-api-url=${emulatorUrl}`,
      '--allowed-webhook-hosts=127.0.0.1',
      '--leader-elect=false',
      '--health-address=127.0.0.1',
      `--health-port=${healthPort}`,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
}

async function readyCount(): Promise<number> {
  const list = (await custom.listNamespacedCustomObject(resource)) as {
    items: { status?: { conditions?: { type: string; status: string }[] } }[];
  };
  return list.items.filter((item) =>
    item.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
  ).length;
}

async function main(): Promise<void> {
  const emulator = await startEmulator();
  await core.createNamespace({ body: { metadata: { name: namespace } } });

  const robotToken = hex(32);
  await emulator.control.putRobot(robotToken, { name: 'ops', keywords: ['alarm'] });
  await core.createNamespacedSecret({
    namespace,
    body: { metadata: { name: 'robot' }, stringData: { webhook: robotToken } },
  });
  for (let app = 0; app < APPS; app++) {
    const clientSecret = hex(16);
    await emulator.control.putApp(`ding-app-${app}`, { clientSecret });
    await emulator.control.putUser(`u-${app}`, {
      name: `User ${app}`,
      mobile: `1380000${String(app).padStart(4, '0')}`,
    });
    await core.createNamespacedSecret({
      namespace,
      body: { metadata: { name: `app-${app}` }, stringData: { clientSecret } },
    });
  }

  const createStarted = performance.now();
  await inParallel(
    Array.from({ length: SERVICES }, (_, i) => i),
    CREATE_CONCURRENCY,
    (i) => {
      const app = i % APPS;
      return custom.createNamespacedCustomObject({
        ...resource,
        body: {
          apiVersion: `${GROUP}/${VERSION}`,
          kind: 'DingTalkService',
          metadata: { name: `svc-${i}` },
          spec: {
            sendTo: ['Group', 'Member'],
            groups: [{ name: 'ops', webhook: { name: 'robot', key: 'webhook' }, keywords: ['alarm'] }],
            member: {
              clientId: `ding-app-${app}`,
              clientSecret: { name: `app-${app}`, key: 'clientSecret' },
              members: [{ userId: `u-${app}` }, { mobile: `1380000${String(app).padStart(4, '0')}` }],
            },
          },
        },
      });
    },
  );
  const createSeconds = (performance.now() - createStarted) / 1000;

  const port = await freePort();
  const startedAt = performance.now();
  const operator = startOperator(emulator.url, port);
  const pid = operator.pid as number;
  let peakRss = 0;
  const rssTimer = setInterval(() => {
    peakRss = Math.max(peakRss, rssBytes(pid));
  }, 250);

  let ready = 0;
  const deadline = startedAt + 10 * 60_000;
  while (ready < SERVICES && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    ready = await readyCount().catch(() => ready);
  }
  const allReadySeconds = (performance.now() - startedAt) / 1000;
  clearInterval(rssTimer);
  const endRss = rssBytes(pid);
  const stats = await emulator.control.stats();
  const metrics = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
  operator.kill('SIGTERM');
  await new Promise((resolve) => operator.once('exit', resolve));
  await emulator.close();
  await core.deleteNamespace({ name: namespace }).catch(() => undefined);

  const tokenRequests = Object.values(stats.tokenRequests).reduce((a, b) => a + b, 0);
  const perApp = Object.values(stats.tokenRequests);
  const userLookups = metrics
    .split('\n')
    .filter((line) => /^dingtalk_operator_dingtalk_requests_total\{.*endpoint="user\./.test(line))
    .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
  const mib = (bytes: number) => (bytes / (1 << 20)).toFixed(0);
  const machine = `${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown CPU'}), ${mib(totalmem())} MiB RAM, Node ${process.versions.node}`;
  if (ready < SERVICES) process.stderr.write(`only ${ready} of ${SERVICES} services became Ready\n`);

  const markdown = `# DingTalkService benchmark

Validation of many DingTalkServices that share a few enterprise apps.

- **Machine:** ${machine}; the local control plane (kube-apiserver + etcd), the DingTalk emulator, the
  benchmark and the operator all run on the same cores.
- **Load:** ${SERVICES} DingTalkServices in one namespace, created before the operator starts (${createSeconds.toFixed(1)} s to
  create). Each sends to one group (a shared robot Secret, keywords) and to two members (a userId and a mobile)
  of one of ${APPS} apps; service i uses app i mod ${APPS}, each app's ClientSecret in its own Secret.
- **Operator:** \`dingtalk-operator run\` in its own process, default flags (4 workers, info logs), no leader
  election, watching the benchmark's namespace.
- **Measured:** from spawning the operator (so including start-up, list and cache sync) until a list of the
  services shows every one Ready=True, polled every 0.5 s.

| figure | value |
|---|---|
| services Ready | ${ready} of ${SERVICES} |
| time until all Ready, from operator start | ${allReadySeconds.toFixed(1)} s |
| token requests seen by DingTalk (goal: ${APPS}) | ${tokenRequests} (per app: ${perApp.join(', ')}) |
| user lookups (getbymobile + user/get) | ${userLookups} |
| operator RSS, peak | ${mib(peakRss)} MiB |
| operator RSS, at the end | ${mib(endRss)} MiB |

Tokens and member lookups are cached per app and shared while in flight, so however many services and
workers ask at the same time, each app's token is requested once and ${SERVICES} services cost about ${APPS * 2} lookups, not ${SERVICES * 2}.
Each service costs one status write; the API server bounds the rate.
`;
  writeFileSync(resultsPath as string, markdown);
  process.stdout.write(`${markdown}\n`);
}

await main();
