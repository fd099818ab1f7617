import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const clusterDir = path.dirname(new URL(import.meta.url).pathname);

/** Parses the KEY=value lines the cluster scripts write. */
export function parseEnv(text: string): Record<string, string> {
  const entries = text
    .split('\n')
    .map((line) => line.match(/^([A-Z_]+)=(.*)$/))
    .filter((match) => match !== null)
    .map((match) => [match[1], match[2]]);
  return Object.fromEntries(entries);
}

/**
 * How long a file's set-up may wait for a part (the node's binaries, Prometheus) that `make test` builds
 * alongside the suite (test/suite.sh): on a fresh machine the file may start before that build is done.
 */
export const BUILT_ALONGSIDE_MS = 1_800_000;

/** Paths of the pinned tools (kubectl, helm) and binaries, as test/cluster/lib.sh computes them. */
export function toolPaths(): {
  KUBECTL: string;
  HELM: string;
  BIN_DIR: string;
  KUBE_VERSION: string;
  TESTAPP_ARCHIVE: string;
} {
  const env = parseEnv(execFileSync('bash', [path.join(clusterDir, 'paths.sh')], { encoding: 'utf8' }));
  return {
    KUBECTL: env.KUBECTL,
    HELM: env.HELM,
    BIN_DIR: env.BIN_DIR,
    KUBE_VERSION: env.KUBE_VERSION,
    TESTAPP_ARCHIVE: env.TESTAPP_ARCHIVE,
  };
}

/**
 * What up.sh recorded about a running control plane: KUBECONFIG, API_SERVER, ETCD_ENDPOINT, and
 * AUDIT_LOG (the API server's audit log of requests made as a ServiceAccount, test/cluster/audit-policy.yaml).
 */
export function runningCluster(runDir: string): {
  KUBECONFIG: string;
  API_SERVER: string;
  ETCD_ENDPOINT: string;
  AUDIT_LOG: string;
} {
  const env = parseEnv(readFileSync(path.join(runDir, 'cluster.env'), 'utf8'));
  return {
    KUBECONFIG: env.KUBECONFIG,
    API_SERVER: env.API_SERVER,
    ETCD_ENDPOINT: env.ETCD_ENDPOINT,
    AUDIT_LOG: env.AUDIT_LOG,
  };
}
