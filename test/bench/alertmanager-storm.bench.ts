import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { ALARM_RULE_PLURAL, GROUP, VERSION } from '../../operator/api/index.ts';
import { parseQuantity } from '../../operator/runtime/heap.ts';
import {
  deliveriesByInstance,
  exampleConfig,
  freePort,
  instanceName,
  pushStorm,
  receiverCount,
  recordingProxy,
  robotForAlertmanager,
  startAlertmanager,
  startReceiverCommand,
  tokenFile,
  watchWebhookCounters,
} from '../alertmanager/harness.ts';
import { startEmulator } from '../emulator/server.ts';
import { serviceAccountToken } from '../receiver/support.ts';
import { eventually } from '../support/kube.ts';
import { operatorFlags } from '../support/operator-flags.ts';
import { benchSetup } from './bench-setup.ts';
import { chartMemoryLimit, deployedEnv, killOnExit, machine, mib, rssSampler } from './process-stats.ts';

/**
 * The Alertmanager storm of test/alertmanager/storm.test.ts at full size: 10,000 alerts of one alertname
 * pushed over 60 s into a real Alertmanager configured by examples/alertmanager/alertmanager.yml, into the
 * `receiver` command and the operator (each its own process with the chart's memory limit and the image's
 * compile cache), with the DingTalk emulator as DingTalk (one robot: 20 messages a minute). CI runs the
 * same storm with 2,000 alerts; memory at 10,000 is measured here. Figures: time until all are stored and
 * until all are delivered, messages sent, Alertmanager's notifications, and each process's peak RSS
 * against the chart's limit.
 *
 * usage: node test/bench/alertmanager-storm.bench.ts <results.md>   (test/bench/run.sh provides both)
 */

const STORM = 10_000;
const PUSH_SECONDS = 60;
const { resultsPath, kubeconfigPath, kubeConfig, namespace } = benchSetup('alertmanager-storm');
const robot = `storm${'0'.repeat(64)}`.slice(0, 64);

const core = kubeConfig.makeApiClient(CoreV1Api);
await core.createNamespace({ body: { metadata: { name: namespace } } });
const emulator = await startEmulator();
const operator = killOnExit(
  spawn(
    process.execPath,
    [
      'operator/cli.ts',
      'run',
      '--kubeconfig',
      kubeconfigPath,
      ...operatorFlags(emulator.url, namespace, ['--log-level', 'warn']),
    ],
    { stdio: ['ignore', 'ignore', 'inherit'], env: deployedEnv('operator') },
  ),
);
const operatorRss = rssSampler(operator.pid as number);
const token = tokenFile(
  await serviceAccountToken(kubeConfig, namespace, 'alertmanager', { mayCreate: true }),
);
const receiver = await startReceiverCommand(kubeconfigPath, await freePort());
// Only to measure the payloads Alertmanager sends; it passes everything on as it is.
const proxy = await recordingProxy(receiver.url);
const am = await startAlertmanager(exampleConfig(proxy.url, namespace, token.path)).catch(async (err) => {
  await receiver.kill();
  throw err;
});
// Everything is stopped also when the storm fails: killOnExit knows neither Alertmanager nor the receiver.
const stopAll = async () => {
  operatorRss.stop();
  await am.stop();
  await proxy.close();
  await receiver.kill();
  operator.kill('SIGTERM');
  await new Promise((resolve) => operator.once('exit', resolve));
  token.remove();
  await emulator.close();
  await core.deleteNamespace({ name: namespace }).catch(() => undefined);
};

async function storm() {
  await robotForAlertmanager(kubeConfig, namespace, emulator, robot);
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  await eventually(
    async () => {
      const rule = (await custom.getNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace,
        plural: ALARM_RULE_PLURAL,
        name: 'ops',
      })) as { status?: { conditions?: { type: string; status: string }[] } };
      return rule.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')
        ? true
        : undefined;
    },
    { timeoutMs: 180_000, intervalMs: 500 },
  );

  const counters = watchWebhookCounters(am);
  const began = Date.now();
  await pushStorm(am, 'DiskFull', STORM, PUSH_SECONDS, new Date());
  const pushed = Date.now();
  const stored = await eventually(
    async () => ((await receiverCount(receiver, 'created')) >= STORM ? Date.now() : undefined),
    { timeoutMs: 1_800_000, intervalMs: 2_000 },
  );
  const delivered = await eventually(
    async () => {
      const messages = await emulator.control.messages({ robot });
      const seen = deliveriesByInstance(messages);
      const all = Array.from({ length: STORM }, (_, i) => seen.get(instanceName(i))?.firing ?? 0);
      return all.every((firing) => firing > 0) ? { at: Date.now(), all, messages } : undefined;
    },
    { timeoutMs: 1_800_000, intervalMs: 5_000 },
  );
  const settled = await counters.settled();
  return {
    began,
    pushed,
    stored,
    delivered,
    settled,
    peaks: { receiver: receiver.peakRss(), operator: operatorRss.peak() },
    receiverCpu: receiver.cpuSeconds(),
    onMachine: machine(),
  };
}

const { began, pushed, stored, delivered, settled, peaks, receiverCpu, onMachine } =
  await storm().finally(stopAll);

const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const times = delivered.messages.map((m) => m.receivedAt).sort((a, b) => a - b);
const twice = delivered.all.filter((firing) => firing > 1).length;
const limit = (container: 'operator' | 'receiver') => {
  const quantity = chartMemoryLimit(container);
  const within = peaks[container] < (parseQuantity(quantity) as number);
  return `${mib(peaks[container])} MiB | ${quantity} | ${within ? 'within' : '**over**'}`;
};
const markdown = `# Alertmanager storm benchmark

Produced by \`test/bench/alertmanager-storm.bench.ts\` (\`make bench\`): the storm of
test/alertmanager/storm.test.ts (which CI runs with 2,000 alerts) at ${STORM.toLocaleString('en')} alerts.

- **Machine:** ${onMachine}. The control plane (kube-apiserver, etcd), Alertmanager, the emulator and this
  load generator share the cores with the measured processes.
- **Storm:** ${STORM.toLocaleString('en')} alerts of one alertname (two labels and a summary), pushed into
  Alertmanager in even batches over ${PUSH_SECONDS} s (the last batch in after ${s(pushed - began)}); Alertmanager
  configured by examples/alertmanager/alertmanager.yml, sending to \`dingtalk-operator receiver\`; one AlarmRule
  (groupBy alertname, groupWait 1s, groupInterval 1s) to one robot, which takes 20 messages a minute.
- **Processes:** the receiver and the operator each as its own process with the chart's memory limit and the
  image's compile cache; peak RSS is the receiver's VmHWM and the operator's RSS sampled every 250 ms.

| figure | value |
|---|---|
| all ${STORM.toLocaleString('en')} stored as AlarmEvents, after the first alert | ${s(stored - began)} |
| all delivered to DingTalk, after the first alert | ${s(delivered.at - began)} |
| first message / last message, after the first alert | ${s((times[0] ?? began) - began)} / ${s((times.at(-1) ?? began) - began)} |
| DingTalk messages sent | ${times.length} |
| alarms delivered more than once | ${twice} |
| Alertmanager notifications (failed) / requests (failed) | ${settled.notifications} (${settled.notificationsFailed}) / ${settled.requests} (${settled.requestsFailed}) |
| largest notification | ${proxy.largest.alerts.toLocaleString('en')} alerts in ${(proxy.largest.bytes / 2 ** 20).toFixed(1)} MiB |
| receiver CPU | ${receiverCpu.toFixed(1)} s |

| process | peak RSS | chart limit | |
|---|---|---|---|
| receiver | ${limit('receiver')} |
| operator | ${limit('operator')} |
`;
writeFileSync(resultsPath, markdown);
process.stdout.write(`${markdown}\n`);
process.exit(0);
