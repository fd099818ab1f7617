import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { DEFAULT_TOKEN_AUDIENCE } from '../../operator/receiver/config.ts';
import { fillPlaceholders, readmeCommands } from '../docs/readme-commands.ts';
import type { EmulatorControl } from '../emulator/control-client.ts';
import { acknowledgeDemoCard, demoAlarmOutcome, demoReadiness, seedDemo } from '../local/demo.ts';
import { chartDir, repoRoot } from '../packaging/helm.ts';
import { eventually, kubectl } from '../support/kube.ts';
import {
  type AlarmItem,
  alarmPhases,
  alarmsShown,
  chartValues,
  deployEmulator,
  EMULATOR_HOST,
  EMULATOR_URL,
  helm,
  type Images,
  leader,
  loadedImages,
  OPERATOR_NAMESPACE,
  operatorPods,
  phasesBySource,
  readyOperatorPods,
  residentMemoryMiB,
  slow,
  splitImage,
  stormRoute,
} from './harness.ts';
import { IN_CLUSTER_API, postFromJob, senderLog, startSender, workloadIdentity } from './workload.ts';

// The operator as its users run it: the image built from the Dockerfile, installed on the node by Helm or
// by dist/install.yaml with their defaults (only the image, DingTalk's URLs and the watched namespaces
// differ: DingTalk is the emulator, a pod behind a Service), used by workloads inside the cluster. The
// install paths share the release's fixed namespace and cluster-wide names, so they run one after the
// other in this file.
const DEMO = 'deployed-demo';
/** Where the storms and the continuous sender raise their alarms, through the receiver Service. */
const STORM = 'deployed-storm';
/** The README's quick start, run as a reader would: its install is this file's Helm install. */
const quickStart = readmeCommands('Quick start');
const QUICK_START = /^kubectl create namespace (\S+)$/m.exec(quickStart.join('\n'))?.[1] as string;
const QUICK_START_INSTALL = quickStart.findIndex((command) => command.startsWith('helm install '));
const RELEASE = 'dingtalk-operator';
// Memory at 10,000 alarms is measured by `make bench` (test/bench/alertmanager-storm.bench.ts, dispatch.bench.ts).
const STORM_ALARMS = 2_000;
const FINAL = ['Delivered', 'PartiallyDelivered', 'Failed', 'Suppressed', 'NoMatchingRule'];
const stormWait = { timeoutMs: 600_000, intervalMs: 5_000 };
const receiverUrl = (namespace: string) =>
  `http://${RELEASE}-receiver.${OPERATOR_NAMESPACE}.svc:8080/api/v1/namespaces/${namespace}/alarms`;
/** A robot's access_token, as DingTalk's look: 64 characters. */
const robotToken = (name: string) => `${name}${'0'.repeat(64)}`.slice(0, 64);
const QUICK_START_TOKEN = robotToken('quickstart');
const countBy = (values: unknown[]) =>
  values.reduce<Record<string, number>>((counts, v) => {
    counts[String(v)] = (counts[String(v)] ?? 0) + 1;
    return counts;
  }, {});
let images: Images;
let emulator: { url: string; control: EmulatorControl };
const figures: Record<string, unknown> = {};

beforeAll(async () => {
  images = await loadedImages();
  await kubectl(['create', 'namespace', DEMO]);
  await kubectl(['create', 'namespace', STORM]);
  emulator = await deployEmulator(images.EMULATOR_IMAGE);
}, 1_800_000);

afterAll(async () => {
  console.log(`[deployed] figures: ${JSON.stringify(figures)}`);
  await helm(['uninstall', RELEASE, '-n', OPERATOR_NAMESPACE, '--wait']).catch(() => undefined);
  await kubectl([
    'delete',
    'namespace',
    DEMO,
    STORM,
    QUICK_START,
    OPERATOR_NAMESPACE,
    '--ignore-not-found',
    '--wait=false',
  ]);
}, 300_000);

/** The phases of the `count` alarms a sender raised, once every one is final (its ledger written). */
function settledPhases(prefix: string, count: number): Promise<Map<string, string>> {
  return eventually(async () => {
    const phases = await phasesBySource(STORM, prefix);
    return phases.size === count && [...phases.values()].every((p) => FINAL.includes(p)) ? phases : undefined;
  }, stormWait);
}

/**
 * Waits for one of `pods` to hold the leader Lease. A Lease an earlier install's pod held stays in the
 * namespace, and stays that pod's until it expires or is released.
 */
async function expectOneLeaderAmong(pods: { name: string }[]) {
  const names = pods.map((p) => p.name);
  let holder = '';
  await eventually(async () => {
    holder = await leader();
    return names.includes(holder) || undefined;
  }, slow).catch(() => undefined);
  expect(names).toContain(holder);
}

/** The final phase of an AlarmEvent once dispatch has settled it. */
async function settledPhase(namespace: string, match: (e: AlarmItem) => boolean): Promise<string> {
  return eventually(async () => {
    const phase = (await alarmPhases(namespace)).find(match)?.status?.phase;
    return phase && !['Pending', 'Delivering'].includes(phase) ? phase : undefined;
  }, slow);
}

/** Runs a README command with bash, as a reader's shell would: kubectl and helm of this run on the PATH. */
async function asReader(command: string): Promise<string> {
  const bin = mkdtempSync(path.join(tmpdir(), 'reader-'));
  symlinkSync(inject('kubectl'), path.join(bin, 'kubectl'));
  symlinkSync(inject('helm'), path.join(bin, 'helm'));
  try {
    const { stdout } = await promisify(execFile)('bash', ['-euo', 'pipefail', '-c', command], {
      cwd: repoRoot,
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, KUBECONFIG: inject('kubeconfig') },
      maxBuffer: 64 << 20,
    });
    return stdout;
  } catch (err) {
    const { stdout, stderr } = err as { stdout?: string; stderr?: string };
    throw new Error(`${command}\n${stdout ?? ''}${stderr ?? String(err)}`);
  }
}

const shellQuote = (word: string) => `'${word.replaceAll("'", "'\\''")}'`;

describe('installed with helm install (chart defaults, the image and the emulator URLs set)', () => {
  it('runs both replicas Ready with one leader', async () => {
    const started = Date.now();
    // The README's quick start up to its install command, which gets the values every install in this file
    // sets after it (the watched namespaces must exist first).
    for (const command of quickStart.slice(0, QUICK_START_INSTALL))
      await asReader(fillPlaceholders(command, { access_token: QUICK_START_TOKEN }));
    const install = quickStart[QUICK_START_INSTALL] ?? '';
    expect(install).toMatch(
      new RegExp(`^helm install ${RELEASE} charts/dingtalk-operator -n ${OPERATOR_NAMESPACE} `),
    );
    const registry = splitImage(images.OPERATOR_IMAGE).repository.replace(/\/[^/]+$/, '');
    const values = chartValues(images, [DEMO, STORM, QUICK_START]);
    await asReader(`${fillPlaceholders(install, { registry })} ${values.map(shellQuote).join(' ')}`);
    const pods = await readyOperatorPods();
    const receivers = await readyOperatorPods(2, slow.timeoutMs, 'receiver');
    figures.timeToReadySeconds = Math.round((Date.now() - started) / 1000);
    await expectOneLeaderAmong(pods);
    // The chart's AlarmEvent quotas in the watched namespaces admit nothing until the quota controller has
    // counted them (after its discovery and quota resyncs: up to about 45 s on a fresh cluster).
    await eventually(
      async () => {
        const { items } = JSON.parse(
          await kubectl([
            'get',
            'resourcequota',
            '-A',
            '-l',
            `app.kubernetes.io/instance=${RELEASE}`,
            '-o',
            'json',
          ]),
        ) as { items: { status?: { used?: Record<string, string> } }[] };
        const counted = items.filter((q) => q.status?.used?.['count/alarmevents.dingtalk.alarming.io']);
        return items.length === 3 && counted.length === 3 ? true : undefined;
      },
      { timeoutMs: 180_000, intervalMs: 1_000 },
    );
    figures.idleRssMiB = {
      operator: await Promise.all(
        pods.map(async (p) => Math.round(await residentMemoryMiB(p.ip as string, 'operator'))),
      ),
      receiver: await Promise.all(
        receivers.map(async (p) => Math.round(await residentMemoryMiB(p.ip as string, 'receiver'))),
      ),
    };
  }, 600_000);

  it('makes the examples Ready and delivers their alarm', async () => {
    await seedDemo(emulator.url, DEMO, EMULATOR_URL);
    const { services, rules } = await demoReadiness(DEMO, 180_000);
    expect(services.filter((s) => s.ready !== 'True')).toEqual([]);
    expect(rules.filter((r) => r.ready !== 'True')).toEqual([]);
    // As the README has it: the alarm once its rules are Ready. seedDemo applied every example at once,
    // the alarm first, and a running operator matched it before the rules existed.
    await kubectl(['delete', 'alarmevent', 'disk-full-node-3', '-n', DEMO]);
    await kubectl(['apply', '-n', DEMO, '-f', path.join(repoRoot, 'examples/alarm-event-firing.yaml')]);
    const { status, memberCards } = await demoAlarmOutcome(DEMO, emulator.control, 300_000);
    expect(status?.phase, JSON.stringify(status)).toBe('Delivered');
    // The on-call members get it as the card they acknowledge it with (critical-to-oncall is interactive).
    expect(memberCards.length).toBeGreaterThan(0);
  }, 600_000);

  it("closes the loop: Acknowledge clicked on the demo alarm's card reaches an operator pod over the Stream and shows in kubectl get ae", async () => {
    expect(await acknowledgeDemoCard(DEMO, emulator.control)).toMatch(/Acknowledged\s+Zhang Wei/);
  }, 300_000);

  it("runs the README's quick start: the service and the rule turn Ready and the first alarm reaches the group", async () => {
    await emulator.control.putRobot(QUICK_START_TOKEN, { name: 'Team alerts' });
    for (const command of quickStart.slice(QUICK_START_INSTALL + 1))
      await asReader(fillPlaceholders(command, { access_token: QUICK_START_TOKEN }));
    const messages = await emulator.control.messages({ robot: QUICK_START_TOKEN });
    expect(messages.map((m) => m.text).join('\n')).toContain('Disk almost full on node-3');
    const listed = await asReader(`kubectl get dingtalk -n ${QUICK_START}`);
    expect(listed).toMatch(/dingtalkservice\.dingtalk\.alarming\.io\/team-group\s+True/);
    expect(listed).toMatch(/alarmrule\.dingtalk\.alarming\.io\/everything-to-team\s+True/);
    expect(listed).toMatch(
      /alarmevent\.dingtalk\.alarming\.io\/disk-full-node-3\s+critical\s+firing\s+Delivered/,
    );
  }, 600_000);

  it('delivers an AlarmEvent a Job creates through the API with its own ServiceAccount', async () => {
    await workloadIdentity(DEMO, 'batch-job', true);
    const answer = await postFromJob(
      DEMO,
      'raise-alarm',
      'batch-job',
      images.OPERATOR_IMAGE,
      `${IN_CLUSTER_API}/apis/dingtalk.alarming.io/v1alpha1/namespaces/${DEMO}/alarmevents`,
      {
        apiVersion: 'dingtalk.alarming.io/v1alpha1',
        kind: 'AlarmEvent',
        metadata: { name: 'raised-by-job' },
        spec: {
          severity: 'critical',
          title: 'Nightly backup failed',
          state: 'firing',
          labels: { alertname: 'BackupFailed' },
        },
      },
    );
    expect(answer.status, answer.text).toBe(201);
    expect(await settledPhase(DEMO, (e) => e.metadata.name === 'raised-by-job')).toBe('Delivered');
    const messages = await emulator.control.messages();
    expect(messages.some((m) => m.text.includes('Nightly backup failed'))).toBe(true);
  }, 600_000);

  it("takes an Alertmanager payload a workload POSTs to the receiver Service with a token for the receiver's audience: 202 and delivered; 403 without rights", async () => {
    const receiverUrl = `http://${RELEASE}-receiver.${OPERATOR_NAMESPACE}.svc:8080/api/v1/namespaces/${DEMO}/alertmanager`;
    const payload = {
      version: '4',
      status: 'firing',
      receiver: 'dingtalk',
      groupKey: '{}:{alertname="QueueBacklog"}',
      alerts: [
        {
          status: 'firing',
          labels: { alertname: 'QueueBacklog', severity: 'critical', namespace: DEMO },
          annotations: { summary: 'Queue backlog above 10k' },
          startsAt: '2026-05-01T08:00:00Z',
          endsAt: '0001-01-01T00:00:00Z',
          fingerprint: 'a1b2c3d4e5f60718',
        },
      ],
    };
    await workloadIdentity(DEMO, 'alert-sender', true);
    await workloadIdentity(DEMO, 'bystander', false);
    const accepted = await postFromJob(
      DEMO,
      'post-alert',
      'alert-sender',
      images.OPERATOR_IMAGE,
      receiverUrl,
      payload,
      DEFAULT_TOKEN_AUDIENCE,
    );
    expect(accepted.status, accepted.text).toBe(202);
    const denied = await postFromJob(
      DEMO,
      'post-alert-denied',
      'bystander',
      images.OPERATOR_IMAGE,
      receiverUrl,
      payload,
      DEFAULT_TOKEN_AUDIENCE,
    );
    expect(denied.status, denied.text).toBe(403);
    expect(await settledPhase(DEMO, (e) => e.spec?.labels?.alertname === 'QueueBacklog')).toBe('Delivered');
  }, 600_000);

  it('answers every post 202 or 503 with Retry-After during a helm upgrade, and delivers every accepted alarm', async () => {
    const token = robotToken('upgrade');
    await stormRoute(STORM, 'upgrade', token, emulator.control);
    await workloadIdentity(STORM, 'sender', true);
    await startSender(STORM, 'upgrade', 'sender', images.OPERATOR_IMAGE, receiverUrl(STORM), {
      count: 0,
      batch: 1,
      pauseMs: 200,
    });
    const answered = async (least: number) =>
      eventually(async () => {
        const { answers } = await senderLog(STORM, 'upgrade');
        return answers.length >= least ? answers.length : undefined;
      }, slow);
    await answered(5);
    await helm([
      'upgrade',
      RELEASE,
      chartDir,
      '-n',
      OPERATOR_NAMESPACE,
      '--reuse-values',
      '--set',
      'operator.workers=3',
    ]);
    await kubectl(['rollout', 'status', '-n', OPERATOR_NAMESPACE, `deployment/${RELEASE}`, '--timeout=600s']);
    // The receiver is a Deployment of its own, which the upgrade above leaves alone: its pods are replaced too.
    const receivers = `deployment/${RELEASE}-receiver`;
    await kubectl(['rollout', 'restart', '-n', OPERATOR_NAMESPACE, receivers]);
    await kubectl(['rollout', 'status', '-n', OPERATOR_NAMESPACE, receivers, '--timeout=600s']);
    await readyOperatorPods();
    // Posts that reached the new pods too.
    await answered((await senderLog(STORM, 'upgrade')).answers.length + 5);
    const { answers } = await senderLog(STORM, 'upgrade');
    await kubectl(['delete', 'pod', '-n', STORM, 'upgrade', '--wait=false']);
    figures.upgradePosts = countBy(answers.map((a) => a.status));
    expect(answers.filter((a) => !(a.status === 202 || (a.status === 503 && Number(a.detail) > 0)))).toEqual(
      [],
    );
    const accepted = answers.filter((a) => a.status === 202).map((a) => `upgrade-${a.first}`);
    const phases = await eventually(async () => {
      const all = await phasesBySource(STORM, 'upgrade');
      return accepted.every((f) => FINAL.includes(all.get(f) ?? '')) ? all : undefined;
    }, slow);
    expect(accepted.filter((f) => phases.get(f) !== 'Delivered')).toEqual([]);
  }, 900_000);

  it('delivers every alarm of a storm of 2,000 once within the default memory limits when the leader pod is deleted in the middle', async () => {
    const token = robotToken('failover');
    await stormRoute(STORM, 'failover', token, emulator.control);
    await workloadIdentity(STORM, 'sender', true);
    const pods = await readyOperatorPods();
    await readyOperatorPods(2, slow.timeoutMs, 'receiver');
    const before = await eventually(async () => (await leader()) || undefined, slow);
    const survivor = pods.find((p) => p.name !== before)?.name;
    // Every live pod's resident memory, the replacement of the deleted leader's included.
    const peaks = new Map<string, number>();
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        for (const container of ['operator', 'receiver'] as const)
          for (const pod of await operatorPods(container).catch(() => [])) {
            if (!pod.ip) continue;
            const mib = await residentMemoryMiB(pod.ip, container).catch(() => 0);
            const key = `${container}@${pod.name}`;
            peaks.set(key, Math.max(peaks.get(key) ?? 0, mib));
          }
        await new Promise((resolve) => setTimeout(resolve, 2000));
      }
    })();
    const started = Date.now();
    try {
      await startSender(STORM, 'failover', 'sender', images.OPERATOR_IMAGE, receiverUrl(STORM), {
        count: STORM_ALARMS,
        batch: 200,
      });
      // Dispatch is under way: the robot has its first digests.
      await eventually(
        async () => ((await emulator.control.messages({ robot: token })).length >= 3 ? true : undefined),
        slow,
      );
      const deleted = Date.now();
      await kubectl(['delete', 'pod', '-n', OPERATOR_NAMESPACE, before, '--wait=false']);
      const after = await eventually(async () => {
        const holder = await leader();
        return holder && holder !== before ? holder : undefined;
      }, slow);
      figures.failoverTakeoverSeconds = Math.round((Date.now() - deleted) / 1000);
      // The standby, or the pod replacing the deleted one when it was up by then: a live replica.
      figures.failoverNewLeader = after === survivor ? 'the standby' : 'the replacement pod';
      expect((await operatorPods()).map((p) => p.name)).toContain(after);
      await eventually(async () => ((await senderLog(STORM, 'failover')).done ? true : undefined), stormWait);
      figures.stormAcceptedSeconds = Math.round((Date.now() - started) / 1000);
      await eventually(async () => {
        const numbers = await alarmsShown(emulator.control, token, 'failover');
        return numbers.size === STORM_ALARMS ? numbers : undefined;
      }, stormWait);
      figures.stormDeliveredSeconds = Math.round((Date.now() - started) / 1000);
    } finally {
      sampling = false;
      await sampler;
      figures.stormPeakRssMiB = Object.fromEntries([...peaks].map(([k, v]) => [k, Math.round(v)]));
    }
    const phases = await settledPhases('failover', STORM_ALARMS);
    expect([...phases.values()].filter((p) => p !== 'Delivered')).toEqual([]);
    expect((await emulator.control.stats()).shownDuplicates).toBe(0);
    const all = [...(await operatorPods()), ...(await operatorPods('receiver'))];
    expect(all.filter((p) => p.restarts > 0 || p.oomKilled)).toEqual([]);
  }, 1_200_000);

  it('restarted no container', async () => {
    const pods = [...(await operatorPods()), ...(await operatorPods('receiver'))];
    expect(pods.filter((p) => p.restarts > 0 || p.oomKilled)).toEqual([]);
  });

  it('helm uninstall leaves the CRDs and every custom resource', async () => {
    const names = async () =>
      (await kubectl(['get', 'dingtalkservices,alarmrules,alarmevents', '-n', DEMO, '-o', 'name']))
        .trim()
        .split('\n')
        .sort();
    const before = await names();
    expect(before.length).toBeGreaterThan(5);
    await helm(['uninstall', RELEASE, '-n', OPERATOR_NAMESPACE, '--wait']);
    await eventually(async () => ((await operatorPods()).length === 0 ? true : undefined), slow);
    const crds = await kubectl(['get', 'crds', '-o', 'name']);
    for (const plural of ['dingtalkservices', 'alarmrules', 'alarmevents'])
      expect(crds).toContain(`${plural}.dingtalk.alarming.io`);
    expect(await names()).toEqual(before);
  }, 600_000);
});

describe('installed with kubectl apply --server-side -f dist/install.yaml (the image and the emulator URLs set)', () => {
  const manifests = parseAllDocuments(readFileSync(path.join(repoRoot, 'dist/install.yaml'), 'utf8'))
    .map((d) => d.toJS())
    .filter(Boolean);

  afterAll(async () => {
    // The CRDs stay: other test files of the run use them.
    await kubectl(
      ['delete', '--ignore-not-found', '--wait=false', '-f', '-'],
      manifests
        .filter((m) => m.kind !== 'CustomResourceDefinition')
        .map((m) => JSON.stringify(m))
        .join('\n'),
    );
  });

  it('runs both replicas Ready with one leader, and delivers', async () => {
    // As a user edits the file before applying it: DingTalk's URLs and the watched namespace.
    const container = manifests.find((m) => m.kind === 'Deployment').spec.template.spec.containers[0];
    const set = (flag: string, value: string) => {
      const at = (container.args as string[]).findIndex((a) => a.startsWith(`${flag}=`));
      expect(at, flag).toBeGreaterThanOrEqual(0);
      container.args[at] = `${flag}=${value}`;
    };
    set('--dingtalk-robot-url', EMULATOR_URL);
    set('--dingtalk-api-url', EMULATOR_URL);
    set('--allowed-webhook-hosts', EMULATOR_HOST);
    set('--namespaces', DEMO);
    await kubectl(['apply', '--server-side', '-f', '-'], manifests.map((m) => stringify(m)).join('---\n'));
    // The README's image override.
    await kubectl([
      'set',
      'image',
      '-n',
      OPERATOR_NAMESPACE,
      'deployment/dingtalk-operator',
      `operator=${images.OPERATOR_IMAGE}`,
    ]);
    await kubectl([
      'set',
      'image',
      '-n',
      OPERATOR_NAMESPACE,
      'deployment/dingtalk-operator-receiver',
      `receiver=${images.OPERATOR_IMAGE}`,
    ]);
    const pods = await readyOperatorPods();
    await readyOperatorPods(2, slow.timeoutMs, 'receiver');
    await expectOneLeaderAmong(pods);
    await kubectl(
      ['apply', '-n', DEMO, '-f', '-'],
      stringify({
        apiVersion: 'dingtalk.alarming.io/v1alpha1',
        kind: 'AlarmEvent',
        metadata: { name: 'after-kubectl-install' },
        spec: {
          severity: 'critical',
          title: 'Certificate expires in 3 days',
          state: 'firing',
          labels: { alertname: 'CertificateExpiry' },
        },
      }),
    );
    expect(await settledPhase(DEMO, (e) => e.metadata.name === 'after-kubectl-install')).toBe('Delivered');
    const messages = await emulator.control.messages();
    expect(messages.some((m) => m.text.includes('Certificate expires in 3 days'))).toBe(true);
  }, 600_000);
});
