import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DEFAULT_TOKEN_AUDIENCE } from '../../operator/receiver/config.ts';
import { runningCluster } from '../cluster/cluster-env.ts';
import { type RunningEmulator, startEmulator } from '../emulator/server.ts';
import { createTestNamespace, eventually, kubectl } from '../support/kube.ts';
import { type AuditedRequest, auditedRequests, describeRequest, mayRequest, refused } from './audit-log.ts';
import { createAlarmSender, deliveryScenario } from './delivery-scenario.ts';
import { freePort, startCommand } from './processes.ts';
import {
  applyCopyWithout,
  applyIdentity,
  covers,
  deleteClusterScoped,
  renderChartIdentity,
  ruleRefs,
  serviceAccountKubeconfig,
  serviceAccountUser,
} from './restricted-identity.ts';

// The operator and the receiver run as the chart's ServiceAccounts, each its own (a TokenRequest token,
// never the admin kubeconfig), through the whole scenario once. The API server's audit log of that run
// shows what each asked for: every request must be allowed by a rule of the chart, every rule must allow
// one of them, and the API server must refuse one of them to a copy of the roles without the rule. That
// proves each rule needed without running the scenario again without it.
const opsNamespace = `pkg-rbac-${randomBytes(4).toString('hex')}`;
const identity = await renderChartIdentity(`rbac-${randomBytes(3).toString('hex')}`, opsNamespace);
const rules = ruleRefs(identity);
const users = new Set(
  [identity.serviceAccount, identity.receiverServiceAccount].map((name) =>
    serviceAccountUser(opsNamespace, name),
  ),
);
const dir = mkdtempSync(path.join(tmpdir(), 'rbac-'));
// Only the local control plane writes an audit log; another cluster (KUBECONFIG_TEST) runs the scenario only.
const auditLog = inject('clusterRunDir') ? runningCluster(inject('clusterRunDir')).AUDIT_LOG : undefined;
// The operator's shortest event TTL: the scenario waits for a finished AlarmEvent to be deleted.
const EVENT_TTL_MS = 60_000;
// The scenario waits out the event TTL on top of its steps, which are given time for a loaded machine
// (a process may take half a minute to start when the cores are shared).
const SCENARIO_TIMEOUT_MS = 600_000;
let emulator: RunningEmulator;
/** What the operator and the receiver asked the API server for during the scenario. */
let observed: AuditedRequest[] | undefined;

beforeAll(async () => {
  await kubectl(['create', 'namespace', opsNamespace]);
  await kubectl(['label', 'namespace', opsNamespace, 'dingtalk-operator.test/run=true']);
  emulator = await startEmulator();
});
afterAll(async () => {
  await emulator?.close();
  await deleteClusterScoped(identity);
  await kubectl(['delete', 'namespace', opsNamespace, '--wait=false']);
});

/** Runs the scenario with the operator and the receiver holding the chart's identity. */
async function scenarioAsChart() {
  await applyIdentity(identity);
  const app = await createTestNamespace('pkg-rbac-app');
  const { file } = await serviceAccountKubeconfig(opsNamespace, identity.serviceAccount, dir);
  const receiverAccount = await serviceAccountKubeconfig(opsNamespace, identity.receiverServiceAccount, dir);
  const caller = await serviceAccountKubeconfig(app.name, await createAlarmSender(app.name), dir, [
    DEFAULT_TOKEN_AUDIENCE,
  ]);
  const port = await freePort();
  const operator = startCommand([
    'run',
    `--kubeconfig=${file}`,
    // Only this run's namespace: a shared cluster may hold other tests' services, which are not this test's work.
    `--namespaces=${app.name}`,
    `--dingtalk-robot-url=${emulator.url}`,
    `--dingtalk-api-url=${emulator.url}`,
    '--allowed-webhook-hosts=127.0.0.1',
    '--health-port=0',
    `--leader-election-namespace=${opsNamespace}`,
    `--leader-election-lease=${identity.leaseName}`,
    '--leader-election-identity=rbac-test',
    '--shutdown-grace-period=1s',
    // The shortest TTL, so the scenario sees a finished AlarmEvent deleted.
    `--event-ttl=${EVENT_TTL_MS / 1000}s`,
  ]);
  const receiver = startCommand([
    'receiver',
    `--kubeconfig=${receiverAccount.file}`,
    '--address=127.0.0.1',
    `--port=${port}`,
    `--namespace=${opsNamespace}`,
    '--shutdown-grace-period=0s',
  ]);
  try {
    await deliveryScenario({
      namespace: app.name,
      lease: { namespace: opsNamespace, name: identity.leaseName },
      receiverUrl: `http://127.0.0.1:${port}`,
      callerToken: caller.token,
      emulator,
      timeoutMs: 120_000,
      eventTtlMs: EVENT_TTL_MS,
    });
  } catch (err) {
    throw new Error(
      `${(err as Error).message}\n--- operator ---\n${operator.output().slice(-3000)}\n--- receiver ---\n${receiver.output().slice(-3000)}`,
    );
  } finally {
    await Promise.all([operator.stop(), receiver.stop()]);
    await app.cleanup();
  }
}

/**
 * The ServiceAccount issuer's discovery documents, which the receiver reads to check token signatures:
 * Kubernetes' default `system:service-account-issuer-discovery` binding lets every ServiceAccount read
 * them, so the chart grants nothing for them.
 */
function grantedToEveryServiceAccount(request: AuditedRequest): boolean {
  return (
    request.verb === 'get' &&
    (request.nonResourcePath === '/.well-known/openid-configuration' ||
      request.nonResourcePath === '/openid/v1/jwks')
  );
}

describe("the chart's RBAC", () => {
  it('does not let a compromised receiver read any Secret, nor anything but its own writes', async () => {
    await applyIdentity(identity);
    const receiver = `system:serviceaccount:${opsNamespace}:${identity.receiverServiceAccount}`;
    const canI = (verb: string, resource: string) =>
      kubectl(['auth', 'can-i', verb, resource, '--all-namespaces', `--as=${receiver}`]).catch(
        (err: { stdout?: string }) => err.stdout ?? String(err),
      );
    for (const verb of ['get', 'list', 'watch']) {
      expect((await canI(verb, 'secrets')).trim(), `${verb} secrets`).toBe('no');
      expect((await canI(verb, 'alarmevents.dingtalk.alarming.io')).trim(), `${verb} alarmevents`).toBe('no');
    }
    expect((await canI('delete', 'alarmevents.dingtalk.alarming.io')).trim()).toBe('no');
    expect((await canI('create', 'alarmevents.dingtalk.alarming.io')).trim()).toBe('yes');
  });

  it(
    'lets the operator and the receiver through the whole scenario, and they ask for nothing that no rule allows',
    async () => {
      const failure = await scenarioAsChart().catch((err: unknown) => err);
      // Checked before the scenario's own failure: a missing right shows as the request it refused.
      const requests = auditLog ? auditedRequests(auditLog, users) : [];
      expect(requests.filter(refused).map(describeRequest), 'refused').toEqual([]);
      const uncovered = requests.filter(
        (request) => !grantedToEveryServiceAccount(request) && !rules.some((rule) => covers(rule, request)),
      );
      expect(uncovered.map(describeRequest), 'allowed by no rule of the chart').toEqual([]);
      if (failure) throw failure;
      observed = requests;
    },
    SCENARIO_TIMEOUT_MS,
  );

  describe('and each rule is needed:', () => {
    it.for(rules.map((rule, index) => [rule.title, rule, index] as const))(
      'the %s allows a request of the scenario that the API server refuses to the roles without it',
      async ([, rule, index], ctx) => {
        if (!auditLog) return ctx.skip();
        if (!observed) throw new Error('the scenario did not run, or its requests were not read');
        const own = observed.filter((request) => request.user === rule.user);
        const allowedByRule = own.filter((request) => covers(rule, request));
        expect(allowedByRule.map(describeRequest), 'requests this rule allows').not.toEqual([]);

        const copy = await applyCopyWithout(identity, rule, `without-${index}`);
        // The copy is in force once the API server allows it what the other rules allow.
        const others = own.filter(
          (request) => !covers(rule, request) && rules.some((other) => covers(other, request)),
        );
        await eventually(async () =>
          (await Promise.all(others.map((request) => mayRequest(request, copy)))).every(Boolean)
            ? true
            : undefined,
        );
        const stillAllowed = await Promise.all(allowedByRule.map((request) => mayRequest(request, copy)));
        const refusedWithout = allowedByRule.filter((_, i) => !stillAllowed[i]);
        expect(refusedWithout.map(describeRequest), 'refused without the rule').not.toEqual([]);
      },
    );
  });
});
