import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { inject } from 'vitest';
import { parseEnv } from './cluster-env.ts';

const run = promisify(execFile);
const clusterDir = path.dirname(new URL(import.meta.url).pathname);

/** What node-up.sh recorded about the node (addresses as pods and the host see them). */
export interface LocalNode {
  name: string;
  /** The host's address as pods see it: a server listening there (or on 0.0.0.0) is reachable from pods. */
  hostIp: string;
  /** The cluster's DNS server (CoreDNS). */
  dnsIp: string;
  /** The node's network namespace (`ip -n NETNS ...`). */
  netns: string;
  /** Directory of the node's files: start-kubelet.sh, kubelet.pid, the logs. */
  dir: string;
}

/** Images every node has: the test program (see testapp/main.go). Pods use imagePullPolicy Never. */
export const TEST_IMAGE = 'dingtalk-operator.local/testapp:test';

let started: Promise<LocalNode | undefined> | undefined;

/**
 * Makes sure the cluster of this test run has a node that runs pods, and returns it. The first call
 * in a run starts it (node-up.sh is idempotent and serialised by a lock, so test files in other
 * workers share the one node); the run's teardown stops it with the control plane. Against a
 * cluster named by KUBECONFIG_TEST it starts nothing and resolves to undefined: that cluster's
 * nodes are used, and images must be loaded into it beforehand (see README).
 */
export function ensureNode(): Promise<LocalNode | undefined> {
  started ??= startNode();
  return started;
}

async function startNode(): Promise<LocalNode | undefined> {
  const runDir = inject('clusterRunDir');
  if (!runDir) return undefined;
  await run('bash', [path.join(clusterDir, 'node-up.sh'), runDir], { maxBuffer: 64 << 20 });
  const dir = path.join(runDir, 'node');
  const env = parseEnv(readFileSync(path.join(dir, 'node.env'), 'utf8'));
  return { name: env.NODE_NAME, hostIp: env.HOST_IP, dnsIp: env.DNS_IP, netns: env.NETNS, dir };
}

/**
 * Makes an image archive (docker-archive, as `docker save` or `buildah push docker-archive:` write
 * it) available to pods under the name recorded in it. Against KUBECONFIG_TEST it runs the command
 * in TEST_LOAD_IMAGE with the archive appended (e.g. `kind load image-archive`), or does nothing.
 */
export async function loadImage(archive: string): Promise<void> {
  const node = await ensureNode();
  if (node) {
    await run('bash', [path.join(clusterDir, 'load-image.sh'), archive, path.dirname(node.dir)]);
    return;
  }
  const command = process.env.TEST_LOAD_IMAGE;
  if (command) await run('sh', ['-c', `${command} "$0"`, archive]);
}
