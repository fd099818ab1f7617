import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { CoreV1Api, KubeConfig, type V1ConfigMap } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Informer } from '../../operator/runtime/informer.ts';
import { collectionPath } from '../../operator/runtime/kube-fetch.ts';
import { createLogger } from '../../operator/runtime/logger.ts';
import { runningCluster } from '../cluster/cluster-env.ts';
import { eventually } from '../support/kube.ts';

/**
 * An API server restart in the middle of a watch: this file runs a control plane of its own (the
 * shared one must not go down under other tests), kills only its kube-apiserver, starts it again and
 * checks that the informer catches up with what changed while its watch was down.
 */

const run = promisify(execFile);
const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const clusterDir = path.join(repoRoot, 'test/cluster');
const runDir = path.join(repoRoot, '.run', `restart-${process.pid}`);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('informer across an API server restart', () => {
  let kubeConfig: KubeConfig;

  beforeAll(async () => {
    await run('bash', [path.join(clusterDir, 'up.sh'), runDir], { maxBuffer: 64 << 20 });
    kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(runningCluster(runDir).KUBECONFIG);
  });

  afterAll(async () => {
    await run('bash', [path.join(clusterDir, 'down.sh'), runDir]);
  });

  it('catches up with changes made while the watch was down', async () => {
    const core = kubeConfig.makeApiClient(CoreV1Api);
    const namespace = 'restart';
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    await core.createNamespacedConfigMap({
      namespace,
      body: { metadata: { name: 'kept' }, data: { v: '1' } },
    });
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'deleted-meanwhile' } } });

    const logLines: string[] = [];
    const logger = createLogger({
      level: 'info',
      destination: new Writable({
        write(chunk, _encoding, callback) {
          logLines.push(String(chunk));
          callback();
        },
      }),
    });
    const informer = new Informer<V1ConfigMap>({
      kubeConfig,
      path: collectionPath({ version: 'v1', plural: 'configmaps', namespace }),
      backoff: { initialMs: 200, maxMs: 2000 },
      logger,
    });
    informer.start();
    try {
      await informer.waitForSync();
      expect(informer.get(namespace, 'deleted-meanwhile')).toBeDefined();

      const pidFile = path.join(runDir, 'apiserver.pid');
      const pid = Number(readFileSync(pidFile, 'utf8'));
      process.kill(pid, 'SIGKILL');
      await eventually(() => (alive(pid) ? undefined : true));
      await run('bash', [path.join(runDir, 'start-apiserver.sh')]);
      await eventually(() => core.listNamespace({ limit: 1 }), { timeoutMs: 60_000, intervalMs: 200 });

      // Changed as soon as the API server answers; the informer is most likely still backing off.
      await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'created-meanwhile' } } });
      await core.deleteNamespacedConfigMap({ namespace, name: 'deleted-meanwhile' });
      await core.replaceNamespacedConfigMap({
        namespace,
        name: 'kept',
        body: { metadata: { name: 'kept' }, data: { v: '2' } },
      });

      await eventually(
        () =>
          informer.get(namespace, 'created-meanwhile') &&
          !informer.get(namespace, 'deleted-meanwhile') &&
          informer.get(namespace, 'kept')?.data?.v === '2'
            ? true
            : undefined,
        { timeoutMs: 60_000 },
      );
      const log = logLines.join('');
      expect(log).toMatch(/list\/watch failed; retrying|watch silent for too long|relisting/);
    } finally {
      await informer.stop();
    }
  });
});
