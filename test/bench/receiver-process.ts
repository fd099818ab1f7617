import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { deployedEnv, killOnExit } from './process-stats.ts';

const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

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

/**
 * `dingtalk-operator receiver` in a process of its own, as deployed (the chart's memory limit), for one
 * namespace on a free local port, with the per-namespace rate set out of the way: benchmarks measure
 * throughput and cost, not the flood guard. Resolves once it answers /healthz.
 */
export async function startReceiver(options: {
  kubeconfigPath: string;
  namespace: string;
  args?: string[];
}): Promise<{ child: ChildProcess; port: number }> {
  const port = await freePort();
  const child = killOnExit(
    spawn(
      process.execPath,
      [
        path.join(repoRoot, 'operator/cli.ts'),
        'receiver',
        `--kubeconfig=${options.kubeconfigPath}`,
        '--address=127.0.0.1',
        `--port=${port}`,
        `--namespace=${options.namespace}`,
        '--namespace-rate=100000',
        '--namespace-burst=1000000',
        ...(options.args ?? []),
      ],
      { stdio: ['ignore', 'ignore', 'inherit'], env: deployedEnv('receiver') },
    ),
  );
  for (let attempt = 0; attempt < 300; attempt++) {
    const healthy = await fetch(`http://127.0.0.1:${port}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (healthy) return { child, port };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill('SIGKILL');
  throw new Error('the receiver did not come up');
}
