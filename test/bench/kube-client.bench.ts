import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { loadConfig } from '../../operator/config.ts';
import { fitHeapToMemoryLimit } from '../../operator/runtime/heap.ts';
import { Informer } from '../../operator/runtime/informer.ts';
import { loadKubeEndpoint } from '../../operator/runtime/kube-endpoint.ts';
import { KubeHttp, type KubeHttpOptions, rateLimitOf } from '../../operator/runtime/kube-http.ts';
import { benchSetup } from './bench-setup.ts';
import { chartMemoryLimit, deployedEnv, machine } from './process-stats.ts';

/**
 * The CPU the operator's Kubernetes client costs per call, with and without its client-side rate limit:
 * merge patches of OBJECTS ConfigMaps, CONCURRENCY at a time as the AlarmEvent status writer makes them,
 * each change then read back from an informer's watch, as every status write of the operator is. Each
 * mode runs in a process of its own, sized as the operator is (the chart's memory limit), after a warm-up
 * that also spends the rate limit's burst, so the rounds measured are paced when a limit is set.
 *
 * usage: node test/bench/kube-client.bench.ts <results.md>   (test/bench/run.sh provides both)
 */

const OBJECTS = 50;
const CONCURRENCY = 8;
const WARM_UP_CALLS = 1_000;
const ROUNDS = 3;
const CALLS_PER_ROUND = 3_000;
/** About the size of an AlarmEvent with its ledger. */
const PAYLOAD_BYTES = 1_500;
const CLIENT_FLAG = '--client';

interface Round {
  cpuMicros: number;
  seconds: number;
}

const configMaps = (namespace: string) => `/api/v1/namespaces/${namespace}/configmaps`;

/** One mode, in the process measured: the rounds' CPU and time, as JSON on stdout. */
async function measureClient(namespace: string, rateLimit: KubeHttpOptions['rateLimit']): Promise<void> {
  const kube = new KubeHttp(loadKubeEndpoint({ kubeconfig: process.env.KUBECONFIG }), {
    connections: null,
    rateLimit,
  });
  const informer = new Informer<{ metadata?: { name?: string }; data?: { n?: string } }>({
    kube,
    path: configMaps(namespace),
  });
  // A round ends once the watch has shown each object's last value: counting events would wait forever
  // for changes that a watch resumed after 410 Gone collapses into one.
  const lastWritten = new Map<string, string>();
  const unseen = new Set<string>();
  let allSeen = () => {};
  informer.onEvent((event) => {
    const name = event.object.metadata?.name ?? '';
    if (event.type !== 'delete' && event.object.data?.n === lastWritten.get(name)) unseen.delete(name);
    if (unseen.size === 0) allSeen();
  });
  informer.start();
  await informer.waitForSync();
  let value = 0;
  const round = async (calls: number): Promise<Round> => {
    const cpu = process.cpuUsage();
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < calls) {
          const name = `c${next++ % OBJECTS}`;
          const n = String(++value);
          lastWritten.set(name, n);
          unseen.add(name);
          await kube.mergePatch(`${configMaps(namespace)}/${name}`, { data: { n } });
        }
      }),
    );
    if (unseen.size > 0) {
      await new Promise<void>((resolve) => {
        allSeen = resolve;
      });
    }
    const used = process.cpuUsage(cpu);
    return { cpuMicros: used.user + used.system, seconds: (performance.now() - started) / 1000 };
  };
  await round(WARM_UP_CALLS);
  const rounds: Round[] = [];
  for (let i = 0; i < ROUNDS; i++) rounds.push(await round(CALLS_PER_ROUND));
  await informer.stop();
  process.stdout.write(JSON.stringify(rounds));
}

function runMode(namespace: string, rateLimit: KubeHttpOptions['rateLimit']): Promise<Round[]> {
  const args = [CLIENT_FLAG, namespace, String(rateLimit?.qps ?? 0), String(rateLimit?.burst ?? 0)];
  const child = spawn(process.execPath, [new URL(import.meta.url).pathname, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: deployedEnv('operator'),
  });
  let output = '';
  child.stdout.on('data', (chunk) => {
    output += chunk;
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0
        ? resolve(JSON.parse(output) as Round[])
        : reject(new Error(`client process exited ${code}`)),
    );
  });
}

async function main(): Promise<void> {
  const { resultsPath, kubeconfigPath, namespace } = benchSetup('kube-client');
  const kube = new KubeHttp(loadKubeEndpoint({ kubeconfig: kubeconfigPath }));
  await kube.post('/api/v1/namespaces', { metadata: { name: namespace } });
  const payload = 'x'.repeat(PAYLOAD_BYTES);
  for (let i = 0; i < OBJECTS; i++) {
    await kube.post(configMaps(namespace), { metadata: { name: `c${i}` }, data: { n: '0', payload } });
  }
  const defaultLimit = rateLimitOf(loadConfig({ argv: [], env: {} }));
  const modes = [
    { label: 'no client-side limit (`--kube-api-qps=0`)', rateLimit: undefined },
    {
      label: `the default limit (\`--kube-api-qps=${defaultLimit?.qps}\`, \`--kube-api-burst=${defaultLimit?.burst}\`)`,
      rateLimit: defaultLimit,
    },
  ];
  const rows: string[] = [];
  let unlimited: number | undefined;
  for (const mode of modes) {
    const rounds = await runMode(namespace, mode.rateLimit);
    const perCall = rounds.map((r) => r.cpuMicros / CALLS_PER_ROUND).sort((a, b) => a - b);
    const median = perCall[Math.floor(perCall.length / 2)] as number;
    unlimited ??= median;
    const rates = rounds.map((r) => (CALLS_PER_ROUND / r.seconds).toFixed(0));
    rows.push(
      `| ${mode.label} | ${rates.join(', ')} | ${median.toFixed(0)} µs (${perCall.map((x) => x.toFixed(0)).join(', ')}) | ${(median / unlimited).toFixed(2)} |`,
    );
  }
  await kube.delete(`/api/v1/namespaces/${namespace}`);

  const markdown = `# Kubernetes client benchmark

Produced by \`test/bench/kube-client.bench.ts\` (\`make bench\`).

- **Machine:** ${machine()}. The control plane (kube-apiserver, etcd) runs on the same cores.
- **Load:** merge patches of ${OBJECTS} ConfigMaps of ${(PAYLOAD_BYTES / 1000).toFixed(1)} KB, ${CONCURRENCY} at a time (as the AlarmEvent status
  writer makes them), each change then seen on an informer's watch, as every status write of the operator is;
  ${ROUNDS} rounds of ${CALLS_PER_ROUND.toLocaleString('en')} calls after a warm-up of ${WARM_UP_CALLS.toLocaleString('en')} that also spends the limit's burst.
- **Client:** the operator's (operator/runtime/kube-http.ts, informer.ts) in a process of its own with the chart's
  memory limit (${chartMemoryLimit('operator')}, so its heap is sized as in the cluster); CPU is the process's, user and system.

| client-side rate limit | calls/s, each round | CPU per call, median (each round) | against no limit |
|---|---|---|---|
${rows.join('\n')}
`;
  writeFileSync(resultsPath, markdown);
  process.stdout.write(`${markdown}\n`);
}

if (process.argv[2] === CLIENT_FLAG) {
  fitHeapToMemoryLimit();
  const [namespace, qps, burst] = process.argv.slice(3).map(String);
  await measureClient(
    namespace as string,
    Number(qps) > 0 ? { qps: Number(qps), burst: Number(burst) } : undefined,
  );
  process.exit(0);
} else {
  await main();
}
