import { randomBytes } from 'node:crypto';
import type { RunningEmulator } from '../emulator/server.ts';
import { eventually, kubectl } from '../support/kube.ts';

/**
 * What a platform team expects of an install, step by step, as seen from outside the processes: a
 * DingTalkService becomes Ready, the change is recorded as an Event, an alarm POSTed to the receiver by a
 * workload's ServiceAccount is stored as an AlarmEvent, an AlarmRule delivers it to the group's robot, the
 * workload resolves it, an alert the receiver cannot store is reported as a Warning Event, and (with
 * `eventTtlMs`) the finished AlarmEvent is deleted after the operator's event TTL. It throws naming the
 * first step that fails.
 */

export interface ScenarioSetup {
  /** Where the service, the caller and the alarm live. */
  namespace: string;
  /** The leader election Lease, as namespace/name. */
  lease: { namespace: string; name: string };
  receiverUrl: string;
  /** A bearer token, for the receiver's audience, of a ServiceAccount allowed to raise alarms in `namespace`. */
  callerToken: string;
  emulator: RunningEmulator;
  timeoutMs: number;
  /** The operator's --event-ttl: wait that long for the finished AlarmEvent to be deleted. */
  eventTtlMs?: number;
}

async function step<T>(name: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw new Error(`step "${name}" failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}

// Start-up gets at least this whatever `timeoutMs`: a process may take half a minute to start when the
// cores are shared, and a short `timeoutMs` is meant for the steps that a missing right can stop.
const STARTUP_TIMEOUT_MS = 120_000;

export async function deliveryScenario(setup: ScenarioSetup): Promise<void> {
  const { namespace, emulator, timeoutMs, lease } = setup;
  await step('a replica becomes leader', () =>
    eventually(
      async () => {
        const held = await kubectl([
          'get',
          'lease',
          lease.name,
          '-n',
          lease.namespace,
          '-o',
          'jsonpath={.spec.holderIdentity}',
        ]);
        return held ? true : undefined;
      },
      { timeoutMs: Math.max(timeoutMs, STARTUP_TIMEOUT_MS) },
    ),
  );
  const robotToken = randomBytes(8).toString('hex');
  await emulator.control.putRobot(robotToken, { name: 'ops' });
  await kubectl(
    ['apply', '-n', namespace, '-f', '-'],
    `
apiVersion: v1
kind: Secret
metadata: { name: ops-robot }
stringData: { webhook: "${emulator.url}/robot/send?access_token=${robotToken}" }
---
apiVersion: dingtalk.alarming.io/v1alpha1
kind: DingTalkService
metadata: { name: ops }
spec:
  sendTo: [Group]
  groups:
    - name: ops
      webhook: { name: ops-robot, key: webhook }
---
apiVersion: dingtalk.alarming.io/v1alpha1
kind: AlarmRule
metadata: { name: critical-to-ops }
spec:
  services: [{ name: ops, groups: [ops] }]
  match: { severities: [critical] }
  grouping: { groupWait: 1s, groupInterval: 2s }
`,
  );

  await step('the DingTalkService becomes Ready', () =>
    eventually(
      async () => {
        const service = JSON.parse(await kubectl(['get', 'dts', 'ops', '-n', namespace, '-o', 'json']));
        const ready = service.status?.conditions?.find((c: { type: string }) => c.type === 'Ready');
        if (ready?.status !== 'True') throw new Error(`Ready is ${JSON.stringify(ready)}`);
        return true;
      },
      { timeoutMs },
    ),
  );

  await step('an Event records that the service became Ready', () =>
    eventually(
      async () => {
        const events = JSON.parse(
          await kubectl(['get', 'events.events.k8s.io', '-n', namespace, '-o', 'json']),
        ) as { items: { regarding?: { name?: string; kind?: string } }[] };
        return events.items.some((e) => e.regarding?.kind === 'DingTalkService' && e.regarding.name === 'ops')
          ? true
          : undefined;
      },
      { timeoutMs },
    ),
  );

  await step('the receiver stores an alarm from a workload as an AlarmEvent', async () => {
    await eventually(async () => ((await fetch(`${setup.receiverUrl}/readyz`)).ok ? true : undefined), {
      timeoutMs,
    });
    const response = await postAlert(setup, 'firing');
    if (!response.ok) throw new Error(`receiver answered ${response.status}: ${await response.text()}`);
    const events = JSON.parse(await kubectl(['get', 'alarmevents', '-n', namespace, '-o', 'json']));
    if (events.items.length !== 1) throw new Error(`${events.items.length} AlarmEvents stored`);
  });

  await step('the alarm is delivered to the DingTalk group', () =>
    eventually(
      async () => ((await emulator.control.messages({ robot: robotToken })).length > 0 ? true : undefined),
      { timeoutMs },
    ),
  );

  await step('the workload resolves the alarm through the receiver', async () => {
    const response = await postAlert(setup, 'resolved');
    if (!response.ok) throw new Error(`receiver answered ${response.status}: ${await response.text()}`);
    const events = JSON.parse(await kubectl(['get', 'alarmevents', '-n', namespace, '-o', 'json']));
    const state = events.items[0]?.spec?.state;
    if (state !== 'resolved') throw new Error(`the AlarmEvent is ${state}`);
  });

  await step('an alert the receiver cannot store is reported in the namespace', async () => {
    const response = await postAlert(setup, 'firing', 'yesterday');
    if (response.status !== 400)
      throw new Error(`receiver answered ${response.status}: ${await response.text()}`);
    const events = JSON.parse(
      await kubectl(['get', 'events.events.k8s.io', '-n', namespace, '-o', 'json']),
    ) as { items: { reason?: string }[] };
    if (!events.items.some((e) => e.reason === 'AlertsRejected')) throw new Error('no AlertsRejected Event');
  });

  const { eventTtlMs } = setup;
  if (eventTtlMs === undefined) return;
  await step('the finished AlarmEvent is deleted after the event TTL', () =>
    eventually(
      async () => {
        const events = JSON.parse(await kubectl(['get', 'alarmevents', '-n', namespace, '-o', 'json']));
        return events.items.length === 0 ? true : undefined;
      },
      { timeoutMs: eventTtlMs + timeoutMs, intervalMs: 1_000 },
    ),
  );
}

const STARTS_AT = new Date().toISOString();

function postAlert(
  setup: ScenarioSetup,
  status: 'firing' | 'resolved',
  startsAt = STARTS_AT,
): Promise<Response> {
  return fetch(`${setup.receiverUrl}/api/v1/namespaces/${setup.namespace}/alertmanager`, {
    method: 'POST',
    headers: { authorization: `Bearer ${setup.callerToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      version: '4',
      status,
      alerts: [
        {
          status,
          labels: { alertname: 'DiskFull', severity: 'critical', instance: 'node-3' },
          annotations: { summary: 'Disk full on node-3' },
          startsAt,
          ...(status === 'resolved' && { endsAt: new Date().toISOString() }),
        },
      ],
    }),
  });
}

/** A ServiceAccount in `namespace` that may raise and resolve alarms there, as a workload or Alertmanager has. */
export async function createAlarmSender(namespace: string): Promise<string> {
  await kubectl(
    ['apply', '-n', namespace, '-f', '-'],
    `
apiVersion: v1
kind: ServiceAccount
metadata: { name: alarm-sender }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: { name: alarm-sender }
rules:
  - { apiGroups: [dingtalk.alarming.io], resources: [alarmevents], verbs: [create, patch] }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: alarm-sender }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: alarm-sender }
subjects: [{ kind: ServiceAccount, name: alarm-sender, namespace: ${namespace} }]
`,
  );
  return 'alarm-sender';
}
