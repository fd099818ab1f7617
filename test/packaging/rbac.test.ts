import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TOKEN_AUDIENCE } from '../../operator/receiver/config.ts';
import { type RunningEmulator, startEmulator } from '../emulator/server.ts';
import { createTestNamespace, eventually, kubectl } from '../support/kube.ts';
import { createAlarmSender, deliveryScenario } from './delivery-scenario.ts';
import { freePort, startCommand } from './processes.ts';
import {
  applyIdentity,
  deleteClusterScoped,
  type RuleRef,
  renderChartIdentity,
  ruleRefs,
  serviceAccountKubeconfig,
} from './restricted-identity.ts';

// The operator and the receiver run as the chart's ServiceAccounts, each its own (a TokenRequest token,
// never the admin kubeconfig), first with the chart's rules, then without each rule of either account in
// turn: every rule must be needed.
const opsNamespace = `pkg-rbac-${randomBytes(4).toString('hex')}`;
const identity = await renderChartIdentity(`rbac-${randomBytes(3).toString('hex')}`, opsNamespace);
const dir = mkdtempSync(path.join(tmpdir(), 'rbac-'));
// The operator's shortest event TTL: the scenario waits for a finished AlarmEvent to be deleted.
const EVENT_TTL_MS = 60_000;
// The scenario waits out the event TTL on top of its steps, which are given time for a loaded machine
// (a process may take half a minute to start when the cores are shared).
const SCENARIO_TIMEOUT_MS = 600_000;
let emulator: RunningEmulator;

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

/** The scenario failed; `output` is all that the operator and the receiver printed. */
class ScenarioFailed extends Error {
  readonly output: string;
  constructor(message: string, output: string) {
    super(message);
    this.output = output;
  }
}

/** What the API server answers a request that only `rule` would allow. */
function refusalOf(rule: RuleRef): RegExp {
  const oneOf = (words: string[]) =>
    words.map((word) => word.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
  return new RegExp(`cannot (${oneOf(rule.verbs)}) resource \\\\?"(${oneOf(rule.resources)})\\\\?"`);
}

/**
 * Runs the scenario with the operator and the receiver holding the chart's identity, minus `without`.
 * When it fails without a rule, the processes run on until the API server's refusal of that rule's
 * requests shows in their output (at most a minute), which the caller then finds in `output`.
 */
async function scenarioAsChart(without: RuleRef | undefined, timeoutMs: number) {
  await applyIdentity(identity, without);
  await kubectl(['delete', 'lease', identity.leaseName, '-n', opsNamespace, '--ignore-not-found']);
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
      timeoutMs,
      eventTtlMs: EVENT_TTL_MS,
    });
  } catch (err) {
    const output = () => `${operator.output()}\n${receiver.output()}`;
    if (without) {
      const refusal = refusalOf(without);
      await eventually(() => (refusal.test(output()) ? true : undefined), { timeoutMs: 60_000 }).catch(
        () => undefined,
      );
    }
    throw new ScenarioFailed(
      `${(err as Error).message}\n--- operator ---\n${operator.output().slice(-3000)}\n--- receiver ---\n${receiver.output().slice(-3000)}`,
      output(),
    );
  } finally {
    await Promise.all([operator.stop(), receiver.stop()]);
    await app.cleanup();
  }
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
    'lets the operator and the receiver through the whole scenario',
    async () => {
      await scenarioAsChart(undefined, 120_000);
    },
    SCENARIO_TIMEOUT_MS,
  );

  describe('and each rule is needed:', () => {
    it.each(ruleRefs(identity).map((rule) => [rule.title, rule] as const))(
      'without the %s, the scenario fails on the API server refusing it',
      async (_title, rule) => {
        const failure = await scenarioAsChart(rule, 30_000).catch((err: unknown) => err);
        expect(failure).toBeInstanceOf(ScenarioFailed);
        expect((failure as ScenarioFailed).message).toMatch(/step ".*" failed/);
        // On a loaded machine a step can also time out from slowness alone: the API server refusing what
        // the rule allows shows that the rule is what was missing.
        expect((failure as ScenarioFailed).output).toMatch(refusalOf(rule));
      },
      SCENARIO_TIMEOUT_MS,
    );
  });
});
