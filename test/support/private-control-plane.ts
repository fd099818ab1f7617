import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { inject } from 'vitest';
import { runningCluster } from '../cluster/cluster-env.ts';
import { eventually } from './kube.ts';

const run = promisify(execFile);
const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const clusterDir = path.join(repoRoot, 'test/cluster');

/** A control plane a test file may take down: the shared one must stay up for every other test. */
export interface PrivateControlPlane {
  /** The directory up.sh ran in (give it to node-up.sh for a node of this control plane). */
  runDir: string;
  kubeconfigPath: string;
  kubeConfig: KubeConfig;
  /** Kills kube-apiserver (SIGKILL) and waits until it is gone; etcd and the controller manager stay. */
  stopApiServer(): Promise<void>;
  /** Starts kube-apiserver again with the same flags, port and certificates. */
  startApiServer(): Promise<void>;
  down(): Promise<void>;
}

export async function startPrivateControlPlane(
  name: string,
  { installCrds = false } = {},
): Promise<PrivateControlPlane> {
  const runDir = path.join(repoRoot, '.run', `${name}-${process.pid}`);
  await run('bash', [path.join(clusterDir, 'up.sh'), runDir], { maxBuffer: 64 << 20 });
  const kubeconfigPath = runningCluster(runDir).KUBECONFIG;
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(kubeconfigPath);
  if (installCrds) {
    const crds = path.join(repoRoot, 'crds');
    const kubectl = (...args: string[]) => run(inject('kubectl'), ['--kubeconfig', kubeconfigPath, ...args]);
    await kubectl('apply', '--server-side', '-f', crds);
    await kubectl('wait', '--for=condition=Established', '--timeout=60s', '-f', crds);
  }
  return {
    runDir,
    kubeconfigPath,
    kubeConfig,
    async stopApiServer() {
      const pid = Number(readFileSync(path.join(runDir, 'apiserver.pid'), 'utf8'));
      process.kill(pid, 'SIGKILL');
      await eventually(() => (alive(pid) ? undefined : true));
    },
    async startApiServer() {
      await run('bash', [path.join(runDir, 'start-apiserver.sh')]);
    },
    async down() {
      await run('bash', [path.join(clusterDir, 'down.sh'), runDir]);
    },
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
