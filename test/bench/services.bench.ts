import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { CoreV1Api, CustomObjectsApi, Watch } from '@kubernetes/client-node';
import { DINGTALK_SERVICE_PLURAL, GROUP, VERSION } from '../../operator/api/index.ts';
import { mapConcurrently } from '../../operator/runtime/concurrency.ts';
import { KubeHttp } from '../../operator/runtime/kube-http.ts';
import { startEmulator } from '../emulator/server.ts';
import { createInParallel } from '../support/create-retrying.ts';
import { benchSetup } from './bench-setup.ts';
import { byKey, kubeTrafficEnv, readKubeTraffic, totalConnections, totalRequests } from './kube-traffic.ts';
import {
  chartMemoryLimit,
  deployedEnv,
  heapSnapshotEnv,
  killOnExit,
  machine,
  mib,
  rssSampler,
  writeHeapSnapshot,
} from './process-stats.ts';

/**
 * DingTalkService validation at scale: SERVICES services, sharing APPS enterprise apps (and one group
 * robot), are created first, in a cluster that also holds UNRELATED_SECRETS Secrets (some of 100 KB) and
 * UNRELATED_CONFIGMAPS ConfigMaps in other namespaces; then `dingtalk-operator run` starts as its own
 * process, watching the whole cluster with the chart's memory limit, against the API server in
 * $KUBECONFIG and the DingTalk emulator. Figures: time from the operator's start until every service is
 * Ready, as a ratio of the time a plain client takes for the same status writes; token requests
 * DingTalk saw (one per app is the goal), user lookups, operator RSS, and the API requests and
 * connections the operator made on the way (kube-traffic.ts).
 *
 * usage: node test/bench/services.bench.ts <results.md>   (test/bench/run.sh provides both)
 */

const SERVICES = 1000;
const APPS = 10;
const CREATE_CONCURRENCY = 16;
const UNRELATED_NAMESPACES = 10;
const UNRELATED_SECRETS = 5000;
/** Every LARGE_EVERY-th unrelated Secret holds LARGE_BYTES (certificate bundles, dumps); the rest 1 KB. */
const LARGE_EVERY = 10;
const LARGE_BYTES = 100 * 1024;
const UNRELATED_CONFIGMAPS = 2000;
/** The operator's reconcile workers (its default), and so the plain client's concurrency. */
const WORKERS = 4;
const MEMORY_GOAL_MIB = 160;
const RATIO_GOAL = 1.2;

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

const traffic = kubeTrafficEnv(kubeConfig.getCurrentCluster()?.server ?? '', {
  ...deployedEnv('operator'),
  ...heapSnapshotEnv(),
});

function startOperator(emulatorUrl: string, healthPort: number): ChildProcess {
  return killOnExit(
    spawn(
      process.execPath,
      [
        path.join(repoRoot, 'operator/cli.ts'),
        'run',
        `--kubeconfig=${kubeconfigPath}`,
        `--dingtalk-robot-url=${emulatorUrl}`,
        `--dingtalk-api-url=${emulatorUrl}`,
        '--allowed-webhook-hosts=127.0.0.1',
        '--leader-elect=false',
        '--health-address=127.0.0.1',
        `--health-port=${healthPort}`,
        `--workers=${WORKERS}`,
      ],
      { stdio: ['ignore', 'ignore', 'inherit'], env: traffic.env },
    ),
  );
}

type ServiceItem = {
  metadata: { name: string; resourceVersion?: string };
  status?: { conditions?: { type: string; status: string }[] };
};
const isReady = (item: ServiceItem) =>
  item.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

/**
 * Follows the services with a watch, so that measuring costs the API server next to nothing (a list of
 * all of them twice a second would compete with the writes measured), and calls `onReady` with the
 * time each service is first seen Ready. A watch the API server ends is opened again from a new list.
 */
function followReadiness(onReady: (name: string) => void): { stop(): void } {
  let stopped = false;
  let current: { abort(): void } | undefined;
  const open = async (): Promise<void> => {
    const list = (await custom.listNamespacedCustomObject(resource)) as {
      metadata: { resourceVersion: string };
      items: ServiceItem[];
    };
    for (const item of list.items) if (isReady(item)) onReady(item.metadata.name);
    if (stopped) return;
    current = await new Watch(kubeConfig).watch(
      `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${DINGTALK_SERVICE_PLURAL}`,
      { resourceVersion: list.metadata.resourceVersion, allowWatchBookmarks: true },
      (type, item: ServiceItem) => {
        if ((type === 'ADDED' || type === 'MODIFIED') && isReady(item)) onReady(item.metadata.name);
      },
      () => {
        if (!stopped) setTimeout(() => void open().catch(reopenLater), 500);
      },
    );
  };
  const reopenLater = () => {
    if (!stopped) setTimeout(() => void open().catch(reopenLater), 1_000);
  };
  void open().catch(reopenLater);
  return {
    stop() {
      stopped = true;
      current?.abort();
    },
  };
}

/** Secrets and ConfigMaps the operator has no business with, in namespaces of their own. */
async function createUnrelated(): Promise<{ namespaces: string[]; seconds: number }> {
  const started = performance.now();
  const namespaces = Array.from({ length: UNRELATED_NAMESPACES }, (_, i) => `${namespace}-other-${i}`);
  for (const name of namespaces) await core.createNamespace({ body: { metadata: { name } } });
  const large = randomBytes(LARGE_BYTES).toString('base64').slice(0, LARGE_BYTES);
  const small = randomBytes(1024).toString('base64').slice(0, 1024);
  await createInParallel(UNRELATED_SECRETS, CREATE_CONCURRENCY, (i) =>
    core.createNamespacedSecret({
      namespace: namespaces[i % UNRELATED_NAMESPACES] as string,
      body: {
        metadata: { name: `unrelated-${i}`, labels: { app: 'something-else' } },
        stringData: { payload: i % LARGE_EVERY === 0 ? large : small },
      },
    }),
  );
  await createInParallel(UNRELATED_CONFIGMAPS, CREATE_CONCURRENCY, (i) =>
    core.createNamespacedConfigMap({
      namespace: namespaces[i % UNRELATED_NAMESPACES] as string,
      body: { metadata: { name: `unrelated-${i}` }, data: { settings: small.repeat(2) } },
    }),
  );
  return { namespaces, seconds: (performance.now() - started) / 1000 };
}

/**
 * The same status writes from a plain client with the operator's concurrency, on pooled connections:
 * each service's status as the operator wrote it, with the Ready condition's time moved so that every
 * write changes the object.
 */
async function plainStatusWrites(): Promise<number> {
  const http = new KubeHttp(kubeConfig, { timeoutMs: 30_000, connections: WORKERS });
  const list = (await custom.listNamespacedCustomObject(resource)) as {
    items: { metadata: { name: string }; status?: { conditions?: { lastTransitionTime?: string }[] } }[];
  };
  const at = new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z');
  const started = performance.now();
  await mapConcurrently(list.items, WORKERS, (item) =>
    http.mergePatch(
      `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${DINGTALK_SERVICE_PLURAL}/${item.metadata.name}/status`,
      {
        status: {
          ...item.status,
          conditions: item.status?.conditions?.map((c) => ({ ...c, lastTransitionTime: at })),
        },
      },
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  await http.close();
  return seconds;
}

async function main(): Promise<void> {
  const emulator = await startEmulator();
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  const unrelated = await createUnrelated();

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
  await createInParallel(SERVICES, CREATE_CONCURRENCY, (i) => {
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
  });
  const createSeconds = (performance.now() - createStarted) / 1000;

  const port = await freePort();
  const startedAt = performance.now();
  const operator = startOperator(emulator.url, port);
  const pid = operator.pid as number;
  const rss = rssSampler(pid);

  const readySince = new Map<string, number>();
  let allReady: () => void = () => undefined;
  const everyoneReady = new Promise<void>((resolve) => {
    allReady = resolve;
  });
  const readiness = followReadiness((name) => {
    if (readySince.has(name)) return;
    readySince.set(name, performance.now());
    if (readySince.size === SERVICES) allReady();
  });
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([everyoneReady, new Promise((resolve) => (timer = setTimeout(resolve, 10 * 60_000)))]);
  clearTimeout(timer);
  readiness.stop();
  const ready = readySince.size;
  const readyTimes = [...readySince.values()];
  const firstReadySeconds = ready > 0 ? (Math.min(...readyTimes) - startedAt) / 1000 : undefined;
  const allReadySeconds = ((ready > 0 ? Math.max(...readyTimes) : performance.now()) - startedAt) / 1000;
  const peakRss = rss.peak();
  rss.stop();
  const kube = await readKubeTraffic(traffic.file, operator);
  const stats = await emulator.control.stats();
  const metrics = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
  await writeHeapSnapshot(operator);
  operator.kill('SIGTERM');
  await new Promise((resolve) => operator.once('exit', resolve));
  const plainSeconds = await plainStatusWrites();
  await emulator.close();
  for (const name of [namespace, ...unrelated.namespaces]) {
    await core.deleteNamespace({ name }).catch(() => undefined);
  }

  const tokenRequests = Object.values(stats.tokenRequests).reduce((a, b) => a + b, 0);
  const perApp = Object.values(stats.tokenRequests);
  const userLookups = metrics
    .split('\n')
    .filter((line) => /^dingtalk_operator_dingtalk_requests_total\{.*endpoint="user\./.test(line))
    .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
  const gauge = (name: string) =>
    Number(
      metrics
        .split('\n')
        .find((line) => line.startsWith(`dingtalk_operator_${name} `))
        ?.split(' ')
        .pop() ?? Number.NaN,
    );
  const heapUsed = gauge('nodejs_heap_size_used_bytes');
  const heapTotal = gauge('nodejs_heap_size_total_bytes');
  const external = gauge('nodejs_external_memory_bytes');
  if (ready < SERVICES) process.stderr.write(`only ${ready} of ${SERVICES} services became Ready\n`);
  const ratio = allReadySeconds / plainSeconds;
  const met = (ok: boolean) => (ok ? 'met' : '**not met**');

  const markdown = `# DingTalkService benchmark

Validation of many DingTalkServices that share a few enterprise apps, in a cluster full of other objects.

- **Machine:** ${machine()}. The local control plane (kube-apiserver + etcd), the DingTalk emulator, the
  benchmark and the operator all run on the same cores.
- **Load:** ${SERVICES} DingTalkServices in one namespace, created before the operator starts (${createSeconds.toFixed(1)} s to
  create). Each sends to one group (a shared robot Secret, keywords) and to two members (a userId and a mobile)
  of one of ${APPS} apps; service i uses app i mod ${APPS}, each app's ClientSecret in its own Secret. The cluster
  also holds ${UNRELATED_SECRETS} unrelated Secrets (every ${LARGE_EVERY}th of ${LARGE_BYTES / 1024} KB, the rest 1 KB) and
  ${UNRELATED_CONFIGMAPS} ConfigMaps of 2 KB in ${UNRELATED_NAMESPACES} other namespaces (${unrelated.seconds.toFixed(0)} s to create).
- **Operator:** \`dingtalk-operator run\` in its own process, watching the whole cluster, ${WORKERS} workers, info
  logs, no leader election, with the chart's memory limit (${chartMemoryLimit('operator')}, so its heap is sized as in the cluster).
- **Measured:** from spawning the operator (so including start-up, list and cache sync) until every service has
  been seen Ready=True (followed with a watch, which costs the API server little). The plain client then writes the same ${SERVICES}
  statuses (each service's status with its Ready time moved, so that each is a real write) with ${WORKERS}
  requests at a time on pooled connections.

| figure | value | goal |
|---|---|---|
| services Ready | ${ready} of ${SERVICES} | all |
| time until all Ready, from operator start | ${allReadySeconds.toFixed(1)} s (first Ready after ${firstReadySeconds?.toFixed(1) ?? '-'} s) | |
| the same status writes from a plain client | ${plainSeconds.toFixed(1)} s | |
| ratio operator / plain client | ${ratio.toFixed(2)} | ≤ ${RATIO_GOAL}: ${met(ratio <= RATIO_GOAL)} |
| token requests seen by DingTalk | ${tokenRequests} (per app: ${perApp.join(', ')}) | ${APPS}, one per app: ${met(tokenRequests === APPS)} |
| user lookups (getbymobile + user/get) | ${userLookups} | |
| operator RSS, peak | ${mib(peakRss)} MiB | ≤ ${MEMORY_GOAL_MIB} MiB: ${met(peakRss <= MEMORY_GOAL_MIB * 2 ** 20)} |
| operator's API requests until all Ready | ${totalRequests(kube).toLocaleString('en')} (${(totalRequests(kube) / SERVICES).toFixed(2)} per service): ${byKey(kube.resources)}; ${kube.watches} of the GETs watches | |
| operator's connections to the API server (TCP + TLS handshake each) | ${totalConnections(kube)} (${byKey(kube.connections)}; ${kube.resumed} resumed a TLS session; ${kube.connectErrors} failed) | |
| operator heap once all are Ready: used / total / external | ${mib(heapUsed)} / ${mib(heapTotal)} / ${mib(external)} MiB | |

Tokens and member lookups are cached per app and shared while in flight, so however many services and
workers ask at the same time, each app's token is requested once and ${SERVICES} services cost about ${APPS * 2} lookups, not ${SERVICES * 2}.
Each service costs one status write; the API server bounds the rate. API requests and connections are
counted inside the operator process from undici's diagnostics channels (test/bench/kube-traffic.ts), from its
start until all are Ready, for the API server's origin only; a retried call counts once per attempt.
`;
  writeFileSync(resultsPath as string, markdown);
  process.stdout.write(`${markdown}\n`);
}

await main();
