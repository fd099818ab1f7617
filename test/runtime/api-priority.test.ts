import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKubeEndpoint } from '../../operator/runtime/kube-endpoint.ts';
import { KubeHttp } from '../../operator/runtime/kube-http.ts';
import { OperatorMetrics } from '../../operator/runtime/metrics.ts';
import { serviceAccountKubeconfig } from '../packaging/restricted-identity.ts';
import { createTestNamespace, eventually, kubectl } from '../support/kube.ts';

/**
 * The client under API Priority and Fairness on the real API server: a PriorityLevelConfiguration of one
 * nominal share (three seats here) that rejects instead of queuing, and a FlowSchema sending a
 * ServiceAccount's requests to it. A storm of calls as that ServiceAccount, released at once by the
 * rate limit's burst, is answered 429 for most of them; each call must still succeed, through retries
 * after the Retry-After the API server sent and paced by the rate limit, and the API server's own
 * counters must show every call run once and no request beyond those 429s.
 */

const CALLS = 60;

describe('the Kubernetes client under API Priority and Fairness', () => {
  let namespace: string;
  let cleanupNamespace: () => Promise<void>;
  let level: string;
  let dir: string;

  beforeAll(async () => {
    ({ name: namespace, cleanup: cleanupNamespace } = await createTestNamespace('apf'));
    level = `test-${namespace}`;
    dir = mkdtempSync(path.join(tmpdir(), 'apf-'));
    const subject = { kind: 'ServiceAccount', serviceAccount: { name: 'storm', namespace } };
    const manifests = [
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'storm', namespace } },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: { name: 'storm', namespace },
        rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'create', 'patch', 'delete'] }],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'storm', namespace },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'storm' },
        subjects: [{ kind: 'ServiceAccount', name: 'storm', namespace }],
      },
      {
        apiVersion: 'flowcontrol.apiserver.k8s.io/v1',
        kind: 'PriorityLevelConfiguration',
        metadata: { name: level },
        spec: {
          type: 'Limited',
          limited: {
            nominalConcurrencyShares: 1,
            lendablePercent: 0,
            borrowingLimitPercent: 0,
            limitResponse: { type: 'Reject' },
          },
        },
      },
      {
        apiVersion: 'flowcontrol.apiserver.k8s.io/v1',
        kind: 'FlowSchema',
        metadata: { name: level },
        spec: {
          priorityLevelConfiguration: { name: level },
          matchingPrecedence: 100,
          distinguisherMethod: { type: 'ByUser' },
          rules: [
            {
              subjects: [subject],
              resourceRules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'], namespaces: ['*'] }],
            },
          ],
        },
      },
    ];
    await kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: manifests }));
    // The API server's flow-control controller marks the FlowSchema once it has taken it in.
    await eventually(async () => {
      const conditions = JSON.parse(
        await kubectl(['get', 'flowschema', level, '-o', 'jsonpath={.status.conditions}']).then(
          (out) => out || '[]',
        ),
      ) as { type: string; status: string }[];
      return conditions.some((c) => c.type === 'Dangling' && c.status === 'False') || undefined;
    });
  });

  afterAll(async () => {
    await kubectl(['delete', 'flowschema,prioritylevelconfiguration', level, '--ignore-not-found']);
    await cleanupNamespace();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The API server's own counts of the requests sent to the test's priority level. */
  async function serverCounts(): Promise<{ dispatched: number; rejected: number }> {
    const text = await kubectl(['get', '--raw', '/metrics']);
    const sum = (name: string) =>
      text
        .split('\n')
        .filter((line) => line.startsWith(`${name}{`) && line.includes(`priority_level="${level}"`))
        .reduce((total, line) => total + Number(line.split(' ').at(-1)), 0);
    return {
      dispatched: sum('apiserver_flowcontrol_dispatched_requests_total'),
      rejected: sum('apiserver_flowcontrol_rejected_requests_total'),
    };
  }

  it('succeeds with every call of a storm it throttled, each run once, and counts the 429s', async () => {
    const { file } = await serviceAccountKubeconfig(namespace, 'storm', dir);
    const metrics = new OperatorMetrics({ processMetrics: false });
    const kube = new KubeHttp(loadKubeEndpoint({ kubeconfig: file }), {
      connections: null,
      rateLimit: { qps: 10, burst: CALLS },
      onComeBackLater: (answer) => metrics.recordKubeComeBackLater(answer),
    });
    const before = await serverCounts();
    const names = Array.from({ length: CALLS }, (_, i) => `storm-${i}`);
    const base = `/api/v1/namespaces/${namespace}/configmaps`;
    try {
      // POSTs here may run twice: a repeat would be answered 409, which fails the test.
      await Promise.all(
        names.map((name) => kube.post(base, { metadata: { name }, data: { n: '0' } }, { idempotent: true })),
      );
      await Promise.all(names.map((name) => kube.mergePatch(`${base}/${name}`, { data: { n: '1' } })));
      const read = await Promise.all(
        names.map((name) => kube.get<{ data: { n: string } }>(`${base}/${name}`)),
      );
      expect(read.map((object) => object.data.n)).toEqual(names.map(() => '1'));
    } finally {
      await kube.close();
    }

    const answers = await metrics.kubeComeBackLater.get();
    const count = (retried: boolean) =>
      answers.values
        .filter((v) => v.labels.code === '429' && v.labels.retried === String(retried))
        .reduce((total, v) => total + v.value, 0);
    const after = await serverCounts();
    const rejected = after.rejected - before.rejected;
    const dispatched = after.dispatched - before.dispatched;
    // The burst met a level of three seats: most of the first wave was turned away.
    expect(rejected).toBeGreaterThan(CALLS / 2);
    // Every 429 the API server sent was seen, counted and retried; none was given up on.
    expect(count(true)).toBe(rejected);
    expect(count(false)).toBe(0);
    // No request beyond one per call and one per 429: nothing retried in a loop of its own.
    expect(dispatched).toBe(3 * CALLS);
  });
});
