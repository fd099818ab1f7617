import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterAll, beforeAll } from 'vitest';
import {
  ALARM_EVENT_PLURAL,
  ALARM_RULE_PLURAL,
  API_VERSION,
  DINGTALK_SERVICE_PLURAL,
  GROUP,
  VERSION,
} from '../../operator/api/index.ts';
import { loadConfig } from '../../operator/config.ts';
import { alarmRuleComponents } from '../../operator/controllers/alarm-rule/index.ts';
import { dingTalkServiceComponents } from '../../operator/controllers/dingtalk-service/index.ts';
import { type DispatcherOptions, dispatchComponents } from '../../operator/dispatch/index.ts';
import { Manager } from '../../operator/manager/manager.ts';
import { createLogger } from '../../operator/runtime/logger.ts';
import { type RunningEmulator, startEmulator } from '../emulator/server.ts';
import { createRetrying } from '../support/create-retrying.ts';
import { createTestNamespace, eventually, testKubeConfig, testKubeconfigPath } from '../support/kube.ts';
import { operatorFlags } from '../support/operator-flags.ts';

export interface DispatchHarness {
  namespace: string;
  /** Every namespace the operator watches: `namespace` first, then the other tenants'. */
  namespaces: string[];
  emulator: RunningEmulator;
  /** The operator started last. */
  manager: Manager;
  api: CustomObjectsApi;
  /** Shuts an operator down (the last started by default), as a rolling upgrade does to a pod. */
  stopOperator(manager?: Manager): Promise<void>;
  /** Starts another operator (a new replica) on the same flags and `extraFlags`. */
  startOperator(extraFlags?: string[]): Manager;
}

/**
 * Namespaces (one per tenant; one unless told), one emulator and the operator (service and rule
 * controllers, dispatch) in-process, per test file.
 */
export function useDispatch(
  options: DispatcherOptions = {},
  extraFlags: string[] = [],
  {
    tenants = 1,
    kubeconfig = kubeconfigPath,
    wallMs,
  }: {
    tenants?: number;
    kubeconfig?: () => string;
    /** The operator's calendar for DingTalk's months (a test turns the month with it). */
    wallMs?: () => number;
  } = {},
): DispatchHarness {
  const harness = {} as DispatchHarness;
  const cleanups: (() => Promise<void>)[] = [];
  const running = new Set<Manager>();
  beforeAll(async () => {
    const namespaces = await Promise.all(
      Array.from({ length: tenants }, () => createTestNamespace('dispatch')),
    );
    cleanups.push(...namespaces.map((ns) => ns.cleanup));
    harness.namespaces = namespaces.map((ns) => ns.name);
    harness.namespace = harness.namespaces[0] as string;
    harness.emulator = await startEmulator();
    harness.api = testKubeConfig().makeApiClient(CustomObjectsApi);
    const argv = [
      '--kubeconfig',
      kubeconfig(),
      ...operatorFlags(harness.emulator.url, harness.namespaces.join(','), [
        '--log-level',
        'warn',
        ...extraFlags,
      ]),
    ];
    harness.startOperator = (more: string[] = []) => {
      const config = loadConfig({ argv: [...argv, ...more], env: {} });
      const manager = new Manager(
        config,
        createLogger({ level: 'warn' }),
        [dingTalkServiceComponents, alarmRuleComponents, dispatchComponents(options)],
        { wallMs },
      );
      running.add(manager);
      void manager.run();
      harness.manager = manager;
      return manager;
    };
    harness.stopOperator = async (manager = harness.manager) => {
      running.delete(manager);
      await manager.shutdown();
    };
    harness.startOperator();
  });
  afterAll(async () => {
    // Whatever a test did, every alarm it raised reaches a final or held state once the operator settles.
    if (harness.namespaces) await expectSettled(harness);
    await Promise.all([...running].map((manager) => manager.shutdown()));
    await harness.emulator?.close();
    await Promise.all(cleanups.map((cleanup) => cleanup()));
  }, SETTLE_MAX_MS + 300_000);
  return harness;
}

/** Phases an alarm may be left in for good: final, or held for a configuration fix. */
const RESTING = ['Delivered', 'PartiallyDelivered', 'Failed', 'Suppressed', 'NoMatchingRule', 'Held'];

/**
 * Fails once AlarmEvents of the harness are left Pending or Delivering and none of them settled for a
 * minute (or after ten). A storm's last status writes can trail its last message by minutes on a machine
 * whose API server other suites load too: waiting while they land tells a slow operator from a stuck one.
 */
async function expectSettled(h: DispatchHarness): Promise<void> {
  const began = Date.now();
  let fewest = Number.POSITIVE_INFINITY;
  let settledLast = began;
  for (;;) {
    const events = (
      await Promise.all(h.namespaces.map((namespace) => list(inNamespace(h, namespace), 'AlarmEvent')))
    ).flat();
    const moving = events
      .filter((e) => !RESTING.includes(e.status?.phase as string))
      .map((e) => `${e.metadata.name} (${(e.status?.phase as string) ?? 'no status'})`);
    if (moving.length === 0) return;
    const now = Date.now();
    if (moving.length < fewest) {
      fewest = moving.length;
      settledLast = now;
    }
    if (now - settledLast > SETTLE_STALL_MS || now - began > SETTLE_MAX_MS) {
      throw new Error(
        `${moving.length} AlarmEvents left unsettled, none settled for ${Math.round((now - settledLast) / 1000)} s: ${moving.slice(0, 20).join(', ')}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

const SETTLE_STALL_MS = 60_000;
const SETTLE_MAX_MS = 600_000;

/** The harness acting in another of its namespaces (a second tenant). */
export function inNamespace(h: DispatchHarness, namespace: string): DispatchHarness {
  return { ...h, namespace };
}

/** The test control plane's kubeconfig file, for an operator run in-process or as a child process. */
export function kubeconfigPath(): string {
  return testKubeconfigPath();
}

type Obj = Record<string, unknown>;

const plural = {
  DingTalkService: DINGTALK_SERVICE_PLURAL,
  AlarmRule: ALARM_RULE_PLURAL,
  AlarmEvent: ALARM_EVENT_PLURAL,
};

export async function create(
  h: DispatchHarness,
  kind: keyof typeof plural,
  name: string,
  spec: Obj,
): Promise<void> {
  await createRetrying(() =>
    h.api.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: h.namespace,
      plural: plural[kind],
      body: { apiVersion: API_VERSION, kind, metadata: { name }, spec },
    }),
  );
}

export async function get(
  h: DispatchHarness,
  kind: keyof typeof plural,
  name: string,
): Promise<Obj & { status?: Obj }> {
  return (await h.api.getNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace: h.namespace,
    plural: plural[kind],
    name,
  })) as Obj & { status?: Obj };
}

/** A JSON merge patch of an object, as `kubectl patch --type merge` sends it. */
export async function patch(
  h: DispatchHarness,
  kind: keyof typeof plural,
  name: string,
  body: Obj,
): Promise<void> {
  await h.api.patchNamespacedCustomObject(
    { group: GROUP, version: VERSION, namespace: h.namespace, plural: plural[kind], name, body },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
}

export async function list(
  h: DispatchHarness,
  kind: keyof typeof plural,
): Promise<(Obj & { metadata: { name: string }; status?: Obj })[]> {
  const result = (await h.api.listNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace: h.namespace,
    plural: plural[kind],
  })) as { items: (Obj & { metadata: { name: string }; status?: Obj })[] };
  return result.items;
}

export async function secret(h: DispatchHarness, name: string, data: Record<string, string>): Promise<void> {
  await testKubeConfig()
    .makeApiClient(CoreV1Api)
    .createNamespacedSecret({ namespace: h.namespace, body: { metadata: { name }, stringData: data } });
}

/** A group robot in the emulator and a DingTalkService with one group pointing at it. */
export async function groupService(
  h: DispatchHarness,
  name: string,
  robot: {
    token: string;
    secret?: string;
    groupName?: string;
    operatorSecret?: string;
    rateLimitPerMinute?: number;
  },
): Promise<void> {
  await h.emulator.control.putRobot(robot.token, { name: robot.groupName ?? 'ops', secret: robot.secret });
  const data: Record<string, string> = {
    webhook: `${h.emulator.url}/robot/send?access_token=${robot.token}`,
  };
  const signing = robot.operatorSecret ?? robot.secret;
  if (signing) data.signature = signing;
  await secret(h, `${name}-robot`, data);
  await create(h, 'DingTalkService', name, {
    sendTo: ['Group'],
    groups: [
      {
        name: robot.groupName ?? 'ops',
        webhook: { name: `${name}-robot`, key: 'webhook' },
        ...(signing && { signature: { name: `${name}-robot`, key: 'signature' } }),
        ...(robot.rateLimitPerMinute && { rateLimitPerMinute: robot.rateLimitPerMinute }),
      },
    ],
  });
}

/**
 * A DingTalkService with one group per name, each on an emulator robot of its own (its token from
 * tokenFor(service + name)). Returns the tokens and each group's spec, for a test to edit the service.
 */
export async function multiGroupService(
  h: DispatchHarness,
  service: string,
  names: string[],
): Promise<{ tokens: Record<string, string>; group: (name: string) => Obj }> {
  const tokens: Record<string, string> = {};
  for (const name of names) {
    tokens[name] = tokenFor(`${service}${name}`.replaceAll('-', ''));
    await h.emulator.control.putRobot(tokens[name], { name });
    await secret(h, `${service}-${name}`, {
      webhook: `${h.emulator.url}/robot/send?access_token=${tokens[name]}`,
    });
  }
  const group = (name: string) => ({ name, webhook: { name: `${service}-${name}`, key: 'webhook' } });
  await create(h, 'DingTalkService', service, { sendTo: ['Group'], groups: names.map(group) });
  return { tokens, group };
}

export async function phaseOf(h: DispatchHarness, name: string): Promise<string | undefined> {
  return (await get(h, 'AlarmEvent', name)).status?.phase as string | undefined;
}

export async function waitForPhase(h: DispatchHarness, name: string, phases: string[], timeoutMs = 60_000) {
  return eventually(
    async () => {
      const event = await get(h, 'AlarmEvent', name);
      if (phases.includes(event.status?.phase as string)) return event;
      // Thrown rather than returned, so that a timeout's message shows what the event last looked like.
      throw new Error(
        `${name} is not ${phases.join(' or ')}; its status: ${JSON.stringify(event.status ?? {})}`,
      );
    },
    { timeoutMs, intervalMs: 250 },
  );
}

export const tokenFor = (label: string) => `${label}${'0'.repeat(64)}`.slice(0, 64);
