import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, inject } from 'vitest';
import { runningCluster } from '../cluster/cluster-env.ts';
import { installCrds as installProjectCrds } from '../cluster/global-setup.ts';
import { eventually, useKubeconfig } from './kube.ts';

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
  if (installCrds) await installProjectCrds(inject('kubectl'), kubeconfigPath);
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

/**
 * Runs this test file on a control plane of its own, with the project's CRDs: the helpers of kube.ts (and
 * everything built on them) use it from its beforeAll on, so call this before any other hook that touches
 * the cluster. A file that runs the operator as the chart installs it, watching every namespace, needs one:
 * on the run's shared control plane that operator would also handle the other files' objects.
 */
export function useOwnControlPlane(name: string): void {
  let plane: PrivateControlPlane | undefined;
  beforeAll(async () => {
    const started = Date.now();
    plane = await startPrivateControlPlane(name, { installCrds: true });
    useKubeconfig(plane.kubeconfigPath);
    // Read by a human in the test's output: what a control plane of its own costs the file.
    console.log(
      `own control plane up with CRDs in ${((Date.now() - started) / 1000).toFixed(1)} s (load average ${loadavg()[0]?.toFixed(1)})`,
    );
  }, 180_000);
  afterAll(async () => {
    useKubeconfig(undefined);
    await plane?.down();
  });
}
