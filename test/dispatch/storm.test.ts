import { type ChildProcess, spawn } from 'node:child_process';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningEmulator, startEmulator } from '../emulator/server.ts';
import { busiestMinute } from '../support/busiest-minute.ts';
import { createTestNamespace, eventually, testKubeConfig } from '../support/kube.ts';
import { operatorFlags } from '../support/operator-flags.ts';
import { create, type DispatchHarness, groupService, kubeconfigPath, list, tokenFor } from './harness.ts';

const STORM = 2_000;
const FINAL = ['Delivered', 'PartiallyDelivered', 'Failed', 'Suppressed', 'NoMatchingRule'];

/** The operator as a child process (`dingtalk-operator run`), so it can be killed with SIGKILL. */
function startOperator(emulatorUrl: string, namespace: string): ChildProcess {
  const child = spawn(
    process.execPath,
    [
      'operator/cli.ts',
      'run',
      '--kubeconfig',
      kubeconfigPath(),
      ...operatorFlags(emulatorUrl, namespace, ['--log-level', 'warn']),
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  return child;
}

async function stopOperator(
  child: ChildProcess | undefined,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  await exited;
}

async function raiseStorm(h: DispatchHarness, prefix: string): Promise<string[]> {
  const titles = Array.from({ length: STORM }, (_, i) => `${prefix} alarm ${i}`);
  let next = 0;
  const worker = async () => {
    while (next < titles.length) {
      const i = next++;
      await create(h, 'AlarmEvent', `${prefix}-${i}`, {
        severity: i % 10 === 0 ? 'critical' : 'warning',
        title: titles[i],
        source: prefix,
        labels: { alertname: `${prefix}-${i}`, pod: `pod-${i % 50}` },
      });
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return titles;
}

async function allFinished(h: DispatchHarness, prefix: string) {
  return eventually(
    async () => {
      const events = (await list(h, 'AlarmEvent')).filter((e) => e.metadata.name.startsWith(`${prefix}-`));
      const open = events.filter((e) => !FINAL.includes(e.status?.phase as string));
      if (events.length === STORM && open.length === 0) return events;
      // A timeout then says which alarms were left and where they stood.
      throw new Error(
        `${events.length} raised, ${open.length} unfinished: ${JSON.stringify(open.slice(0, 3).map((e) => ({ name: e.metadata.name, status: e.status })))}`,
      );
    },
    { timeoutMs: 420_000, intervalMs: 2_000 },
  );
}

describe('a storm of alarms for one robot', () => {
  const h = {} as DispatchHarness;
  let operator: ChildProcess | undefined;
  /** Every operator started, so a failed test leaves none running. */
  const started: ChildProcess[] = [];
  const run = () => {
    const child = startOperator(emulator.url, h.namespace);
    started.push(child);
    operator = child;
  };
  let cleanup: () => Promise<void> = async () => undefined;
  let emulator: RunningEmulator;

  beforeAll(async () => {
    const ns = await createTestNamespace('storm');
    cleanup = ns.cleanup;
    emulator = await startEmulator();
    Object.assign(h, { namespace: ns.name, emulator, api: testKubeConfig().makeApiClient(CustomObjectsApi) });
  });
  afterAll(async () => {
    await Promise.all(started.map((child) => stopOperator(child)));
    await emulator?.close();
    await cleanup();
  });

  async function setUp(name: string, token: string) {
    await groupService(h, name, { token, groupName: name });
    await create(h, 'AlarmRule', name, {
      services: [{ name }],
      match: { sources: [name] },
      grouping: { groupBy: ['alertname'], groupWait: '1s', groupInterval: '1s', repeatInterval: '4h' },
    });
  }

  async function expectEveryAlarmDelivered(token: string, titles: string[]) {
    const messages = await emulator.control.messages({ robot: token });
    const text = messages.map((m) => m.text).join('\n');
    const missing = titles.filter((title) => !new RegExp(`${title}( |$)`, 'm').test(text));
    expect(missing).toEqual([]);
    expect(busiestMinute(messages)).toBeLessThanOrEqual(20);
    const stats = await emulator.control.stats();
    // Every send was shown or recognised as a retry: none was answered "too fast".
    expect(stats.robotSends[token]).toBe(messages.length + stats.duplicatesSuppressed);
    expect(stats.shownDuplicates).toBe(0);
    return messages;
  }

  it('delivers every one of 2,000 alarms in digests without DingTalk ever throttling the robot', async () => {
    const token = tokenFor('e5');
    await setUp('storm', token);
    run();
    const titles = await raiseStorm(h, 'storm');
    const events = await allFinished(h, 'storm');
    expect(events.every((e) => e.status?.phase === 'Delivered')).toBe(true);
    const messages = await expectEveryAlarmDelivered(token, titles);
    expect(messages.length).toBeLessThan(STORM / 20);
    await stopOperator(operator);
  }, 600_000);

  it('still delivers every alarm once when the operator is killed with SIGKILL mid-storm and restarted', async () => {
    const token = tokenFor('f6');
    await setUp('killed', token);
    run();
    const raising = raiseStorm(h, 'killed');
    await eventually(
      async () => ((await emulator.control.messages({ robot: token })).length >= 3 ? true : undefined),
      {
        timeoutMs: 120_000,
        intervalMs: 200,
      },
    );
    await stopOperator(operator, 'SIGKILL');
    run();
    const titles = await raising;
    await allFinished(h, 'killed');
    await expectEveryAlarmDelivered(token, titles);
  }, 600_000);
});
