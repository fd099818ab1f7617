import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';
import { runningCluster, toolPaths } from './cluster-env.ts';

const run = promisify(execFile);
const clusterDir = path.dirname(new URL(import.meta.url).pathname);
const repoRoot = path.resolve(clusterDir, '../..');

declare module 'vitest' {
  export interface ProvidedContext {
    kubeconfig: string;
    kubectl: string;
    helm: string;
    /** Directory of the control plane this run started; empty when KUBECONFIG_TEST was given. */
    clusterRunDir: string;
  }
}

/**
 * Starts one control plane for the whole run (or reuses the one named by KUBECONFIG_TEST),
 * installs the project's CRDs and hands the kubeconfig to the tests.
 */
export default async function setup(project: TestProject) {
  const given = process.env.KUBECONFIG_TEST;
  const runDir = given ? '' : path.join(repoRoot, '.run', `test-${process.pid}`);
  if (!given) await run('bash', [path.join(clusterDir, 'up.sh'), runDir], { maxBuffer: 64 << 20 });
  const kubeconfig = given ?? runningCluster(runDir).KUBECONFIG;
  const tools = toolPaths();
  await installCrds(tools.KUBECTL, kubeconfig);

  project.provide('kubeconfig', kubeconfig);
  project.provide('kubectl', tools.KUBECTL);
  project.provide('helm', tools.HELM);
  project.provide('clusterRunDir', runDir);

  return async () => {
    if (!given) await run('bash', [path.join(clusterDir, 'down.sh'), runDir]);
  };
}

/** Installs the project's CRDs on a control plane and waits until they are Established. */
export async function installCrds(kubectl: string, kubeconfig: string): Promise<void> {
  const crdDir = path.join(repoRoot, 'crds');
  const files = readdirSync(crdDir).filter((name) => name.endsWith('.yaml'));
  if (files.length === 0) return;
  const k = (...args: string[]) => run(kubectl, ['--kubeconfig', kubeconfig, ...args]);
  await k('apply', '--server-side', '--force-conflicts', '-f', crdDir);
  await k(
    'wait',
    '--for=condition=Established',
    '--timeout=60s',
    ...files.map((f) => `-f=${path.join(crdDir, f)}`),
  );
}
