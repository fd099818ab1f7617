import { CoreV1Api } from '@kubernetes/client-node';
import { toKubeApiError } from '../../operator/errors.ts';
import { type KubeObject, parseManifests, renderChart } from '../packaging/helm.ts';
import { freePort, type RunningCommand, startCommand } from '../packaging/processes.ts';
import { eventually, testKubeConfig, testKubeconfigPath } from './kube.ts';

/**
 * The operator and the receiver started as the chart starts them: the command line its Deployments render
 * with the chart's default values, except DingTalk's URLs (the emulator's) and `set`. What a pod gets from
 * where it runs, the process gets here: the namespace and name the downward API gives (POD_NAMESPACE,
 * POD_NAME), the container's memory limit to size the heap from (DINGTALK_OPERATOR_MEMORY_LIMIT; in a pod,
 * the cgroup's limit), a kubeconfig instead of the pod's ServiceAccount, and a free loopback port instead of
 * the pod's own address.
 */

/** The release the commands are rendered for; the operator's Lease is `<release>-leader`. */
export const CHART_RELEASE = 'dingtalk-operator';
/** The namespace the release is installed in: the operator's Lease is there. */
export const CHART_NAMESPACE = 'dingtalk-operator';

type Component = 'operator' | 'receiver';

interface Container {
  name: string;
  args: string[];
  resources?: { limits?: { memory?: string } };
}

export interface ChartCommand {
  args: string[];
  env: Record<string, string>;
  /** The port the process listens on: the receiver's HTTP port, the operator's health port. */
  port: number;
}

export interface ChartCommandOptions {
  /** DingTalk's robot and API base URL, and the one webhook host allowed. */
  emulatorUrl?: string;
  /** Chart values other than the defaults, as `helm template --set` takes them. */
  set?: string[];
  /** The pod's name, the operator's leader election identity. */
  podName?: string;
  /** Defaults to the admin kubeconfig of the test file's control plane. */
  kubeconfig?: string;
  /** Flags after the chart's, e.g. a test's shorter cache TTL. */
  extra?: string[];
}

/** The container of `component` as the chart renders it. */
export async function chartContainer(component: Component, set: string[] = []): Promise<Container> {
  const objects = parseManifests(
    await renderChart({ release: CHART_RELEASE, namespace: CHART_NAMESPACE, set }),
  );
  const containers = objects
    .filter(
      (o): o is KubeObject & { spec: { template: { spec: { containers: Container[] } } } } =>
        o.kind === 'Deployment',
    )
    .flatMap((d) => d.spec.template.spec.containers);
  const container = containers.find((c) => c.name === component);
  if (!container) throw new Error(`the chart renders no ${component} container`);
  return container;
}

/**
 * The receiver's flags as the chart passes them, for a receiver built in the test's process (whose heap is
 * the test runner's, so not for a test of its memory).
 */
export async function chartReceiverFlags(): Promise<string[]> {
  const [command, ...flags] = (await chartContainer('receiver')).args;
  if (command !== 'receiver') throw new Error(`the receiver container runs ${command}, not receiver`);
  return flags;
}

export async function chartCommand(
  component: Component,
  {
    emulatorUrl,
    set = [],
    podName = `${component}-0`,
    kubeconfig = testKubeconfigPath(),
    extra = [],
  }: ChartCommandOptions = {},
): Promise<ChartCommand> {
  const dingTalk = emulatorUrl
    ? [
        `operator.dingtalk.robotUrl=${emulatorUrl}`,
        `operator.dingtalk.apiUrl=${emulatorUrl}`,
        `operator.dingtalk.allowedWebhookHosts={${new URL(emulatorUrl).hostname}}`,
      ]
    : [];
  const container = await chartContainer(component, [...dingTalk, ...set]);
  const memory = container.resources?.limits?.memory;
  if (!memory) throw new Error(`the chart gives the ${component} container no memory limit`);
  const port = await freePort();
  const listen =
    component === 'operator'
      ? ['--health-address=127.0.0.1', `--health-port=${port}`]
      : ['--address=127.0.0.1', `--port=${port}`];
  return {
    args: [...container.args, `--kubeconfig=${kubeconfig}`, ...listen, ...extra],
    env: { POD_NAMESPACE: CHART_NAMESPACE, POD_NAME: podName, DINGTALK_OPERATOR_MEMORY_LIMIT: memory },
    port,
  };
}

/** A process started as the chart starts it; a receiver's URL is http://127.0.0.1:<port>. */
export type ChartProcess = RunningCommand & { port: number; url: string };

/**
 * Starts `component` as its own process, as the chart starts it, and resolves once it serves /healthz;
 * for the operator, creates the release namespace its Lease goes in first. The free port it is given may
 * be taken by another process before it binds it: then it is started again, on another port.
 */
export async function startChartCommand(
  component: Component,
  options: ChartCommandOptions = {},
): Promise<ChartProcess> {
  if (component === 'operator') await ensureNamespace(CHART_NAMESPACE);
  for (let attempt = 1; ; attempt++) {
    const command = await chartCommand(component, options);
    const running = startCommand(command.args, command.env);
    const url = `http://127.0.0.1:${command.port}`;
    const outcome = await eventually(
      async () => {
        if (!running.running()) return 'exited';
        return (await fetch(`${url}/healthz`).catch(() => undefined))?.ok ? 'serving' : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    ).catch((err: Error) => err.message);
    if (outcome === 'serving') return Object.assign(running, { port: command.port, url });
    await running.stop();
    if (outcome === 'exited' && attempt < 3 && /EADDRINUSE/.test(running.output())) continue;
    throw new Error(
      `${component} did not serve ${url}/healthz (${outcome}):\n${running.output().slice(-3000)}`,
    );
  }
}

async function ensureNamespace(name: string): Promise<void> {
  try {
    await testKubeConfig()
      .makeApiClient(CoreV1Api)
      .createNamespace({ body: { metadata: { name } } });
  } catch (err) {
    if (toKubeApiError(err)?.status !== 409) throw err;
  }
}
