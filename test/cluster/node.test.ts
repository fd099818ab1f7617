import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  RbacAuthorizationV1Api,
  type V1Container,
  type V1Pod,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestNamespace, eventually, testKubeConfig } from '../support/kube.ts';
import { BUILT_ALONGSIDE_MS, toolPaths } from './cluster-env.ts';
import { ensureNode, type LocalNode, loadImage, TEST_IMAGE } from './node.ts';

// Pods really run: a Deployment of a locally built image behind a Service, DNS, ServiceAccount tokens
// with their RBAC, memory limits the kernel enforces. Runs unchanged against KUBECONFIG_TEST; the
// tests of the local node itself (kubelet restart) skip there.
const run = promisify(execFile);
const slow = { timeoutMs: 180_000, intervalMs: 500 };

describe('a node of the local cluster', () => {
  const kc = testKubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  let node: LocalNode | undefined;
  let ns: Awaited<ReturnType<typeof createTestNamespace>>;

  const container = (args: string[], extra: Partial<V1Container> = {}): V1Container => ({
    name: 'main',
    image: TEST_IMAGE,
    imagePullPolicy: 'Never',
    args,
    ...extra,
  });

  /** Runs the test program once in a pod and returns the pod when it has finished. */
  async function runOnce(name: string, args: string[], serviceAccountName?: string): Promise<V1Pod> {
    await core.createNamespacedPod({
      namespace: ns.name,
      body: {
        metadata: { name },
        spec: { restartPolicy: 'Never', serviceAccountName, containers: [container(args)] },
      },
    });
    return eventually(async () => {
      const pod = await core.readNamespacedPod({ namespace: ns.name, name });
      return pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed' ? pod : undefined;
    }, slow);
  }
  const message = (pod: V1Pod) => pod.status?.containerStatuses?.[0]?.state?.terminated?.message ?? '';

  const webPods = async () =>
    (await core.listNamespacedPod({ namespace: ns.name, labelSelector: 'app=web' })).items;
  const webAvailable = async () => {
    const d = await apps.readNamespacedDeployment({ namespace: ns.name, name: 'web' });
    return d.status?.availableReplicas === 2 && d.status.updatedReplicas === 2 ? d : undefined;
  };

  beforeAll(async () => {
    node = await ensureNode();
    await loadImage(toolPaths().TESTAPP_ARCHIVE);
    ns = await createTestNamespace('node');
    // Pods are admitted only once the namespace's default ServiceAccount exists.
    await eventually(() => core.readNamespacedServiceAccount({ namespace: ns.name, name: 'default' }), slow);
    await apps.createNamespacedDeployment({
      namespace: ns.name,
      body: {
        metadata: { name: 'web' },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: 'web' } },
          template: {
            metadata: { labels: { app: 'web' } },
            spec: {
              containers: [
                container(['serve'], {
                  ports: [{ containerPort: 8080 }],
                  readinessProbe: { httpGet: { path: '/', port: 8080 }, periodSeconds: 2 },
                }),
              ],
            },
          },
        },
      },
    });
    await core.createNamespacedService({
      namespace: ns.name,
      body: {
        metadata: { name: 'web' },
        spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] },
      },
    });
  }, BUILT_ALONGSIDE_MS);

  afterAll(async () => {
    await ns?.cleanup();
  });

  it('has a Ready node', async () => {
    const nodes = (await core.listNode()).items;
    const ready = nodes.filter((n) =>
      n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    );
    expect(ready.length).toBeGreaterThan(0);
  });

  it('makes a Deployment of a locally built image Available', async () => {
    await eventually(webAvailable, slow);
    const pods = await webPods();
    expect(pods.filter((p) => p.status?.phase === 'Running')).toHaveLength(2);
  });

  it('lets a pod reach the Deployment through its Service, by DNS name and by ClusterIP', async () => {
    await eventually(webAvailable, slow);
    const service = await core.readNamespacedService({ namespace: ns.name, name: 'web' });
    const byName = `http://web.${ns.name}.svc.cluster.local/`;
    const byIp = `http://${service.spec?.clusterIP}/`;
    const pod = await runOnce('client', ['get', byName, byIp]);
    expect(pod.status?.phase, message(pod)).toBe('Succeeded');
    // Each answer is the hostname of the web pod that served it.
    const names = (await webPods()).map((p) => p.metadata?.name);
    const lines = message(pod).trim().split('\n');
    expect(lines.map((line) => line.split(' ')[0])).toEqual([byName, byIp]);
    for (const line of lines) expect(names).toContain(line.split(' ')[1]);
    // The API server reaches the kubelet: the pod's log is what it printed.
    const log = await core.readNamespacedPodLog({ namespace: ns.name, name: 'client' });
    expect(log.trim()).toBe(message(pod).trim());
  });

  it('routes pods only to Services and the host end of their link, with no default route', async (ctx) => {
    if (!node) return ctx.skip();
    const pod = await runOnce('routes', ['cat', '/proc/net/route']);
    expect(pod.status?.phase, message(pod)).toBe('Succeeded');
    // /proc/net/route: interface, destination and gateway in little-endian hex, ..., mask.
    const routes = message(pod)
      .trim()
      .split('\n')
      .slice(1)
      .map((line) => line.split(/\s+/))
      .map(([, dst, , , , , , mask]) => `${hexIp(dst)}/${hexIp(mask)}`);
    expect(routes).not.toContain('0.0.0.0/0.0.0.0');
    expect(routes).toContain('10.0.0.0/255.255.255.0');
    const { stdout } = await run('ip', ['-n', node.netns, 'route', 'show', 'default']);
    expect(stdout.trim()).toBe('');
  });

  it('gives a pod a ServiceAccount token that has exactly its RBAC rights', async () => {
    await core.createNamespacedServiceAccount({ namespace: ns.name, body: { metadata: { name: 'reader' } } });
    await rbac.createNamespacedRole({
      namespace: ns.name,
      body: {
        metadata: { name: 'read-configmaps' },
        rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['list'] }],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: ns.name,
      body: {
        metadata: { name: 'reader' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'read-configmaps' },
        subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace: ns.name }],
      },
    });
    const allowed = `/api/v1/namespaces/${ns.name}/configmaps`;
    const forbidden = `/api/v1/namespaces/${ns.name}/secrets`;
    const pod = await runOnce('reader', ['kube', allowed, forbidden], 'reader');
    expect(pod.status?.phase, message(pod)).toBe('Succeeded');
    expect(message(pod).trim().split('\n')).toEqual([`${allowed} 200`, `${forbidden} 403`]);
  });

  it('OOM-kills a container that allocates beyond its memory limit, and restarts it', async () => {
    await core.createNamespacedPod({
      namespace: ns.name,
      body: {
        metadata: { name: 'hog' },
        spec: {
          containers: [
            container(['alloc', '256'], {
              resources: { limits: { memory: '32Mi' }, requests: { memory: '32Mi' } },
            }),
          ],
        },
      },
    });
    const status = await eventually(async () => {
      const pod = await core.readNamespacedPod({ namespace: ns.name, name: 'hog' });
      const s = pod.status?.containerStatuses?.[0];
      return s?.lastState?.terminated && (s.restartCount ?? 0) >= 1 ? s : undefined;
    }, slow);
    expect(status.lastState?.terminated?.reason).toBe('OOMKilled');
  });

  it('replaces a deleted pod of the Deployment with a new Running one', async () => {
    await eventually(webAvailable, slow);
    const [victim] = await webPods();
    const victimName = victim.metadata?.name as string;
    await core.deleteNamespacedPod({ namespace: ns.name, name: victimName, gracePeriodSeconds: 0 });
    const pods = await eventually(async () => {
      const all = await webPods();
      const running = all.filter(
        (p) =>
          p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp && p.metadata?.name !== victimName,
      );
      return running.length === 2 ? running : undefined;
    }, slow);
    expect(pods.map((p) => p.metadata?.name)).not.toContain(victimName);
    await eventually(webAvailable, slow);
  });

  it('keeps the node and its pods through a kubelet restart', async (ctx) => {
    if (!node) return ctx.skip();
    const local = node;
    const before = (await webPods()).map(
      (p) => `${p.metadata?.name}/${p.status?.containerStatuses?.[0]?.containerID}`,
    );
    const pidFile = path.join(local.dir, 'kubelet.pid');
    const oldPid = Number(readFileSync(pidFile, 'utf8'));
    process.kill(oldPid, 'SIGKILL');
    await eventually(() => (alive(oldPid) ? undefined : true));
    const restarted = new Date();
    await run('bash', [path.join(local.dir, 'start-kubelet.sh')]);

    // The restarted kubelet renews the node's lease, runs new pods, and left the running ones alone.
    const leases = kc.makeApiClient(CoordinationV1Api);
    await eventually(async () => {
      const lease = await leases.readNamespacedLease({ namespace: 'kube-node-lease', name: local.name });
      const renewed = lease.spec?.renewTime ? new Date(lease.spec.renewTime) : undefined;
      return renewed && renewed > restarted ? true : undefined;
    }, slow);
    // A restarted kubelet reports every container with a readiness probe unready until its first probe
    // passes, so the Service may have no endpoints for a moment: the client retries, in a new pod each time.
    const client = ['get', `http://web.${ns.name}.svc.cluster.local/`];
    let pod = await runOnce('after-restart-1', client);
    for (let attempt = 2; pod.status?.phase !== 'Succeeded' && attempt <= 5; attempt++) {
      pod = await runOnce(`after-restart-${attempt}`, client);
    }
    expect(pod.status?.phase, message(pod)).toBe('Succeeded');
    const after = (await webPods()).map(
      (p) => `${p.metadata?.name}/${p.status?.containerStatuses?.[0]?.containerID}`,
    );
    expect(after.sort()).toEqual(before.sort());
    await eventually(webAvailable, slow);
  }, 600_000);

  it('reports no memory, disk or PID pressure once its pods have run', async () => {
    // A node under pressure evicts pods and takes no new ones, so the tests above time out; this names
    // the cause. The kubelet reports pressure some seconds after it starts, so this check comes last.
    const types = ['Ready', 'MemoryPressure', 'DiskPressure', 'PIDPressure'];
    const conditions = (await core.listNode()).items.map((n) =>
      Object.fromEntries(
        types.map((type) => [type, n.status?.conditions?.find((c) => c.type === type)?.status]),
      ),
    );
    expect(conditions).toContainEqual({
      Ready: 'True',
      MemoryPressure: 'False',
      DiskPressure: 'False',
      PIDPressure: 'False',
    });
  });
});

function hexIp(hex: string): string {
  return (hex.match(/../g) ?? [])
    .reverse()
    .map((byte) => Number.parseInt(byte, 16))
    .join('.');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
