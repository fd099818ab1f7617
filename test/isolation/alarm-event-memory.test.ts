import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALARM_EVENT_MAP_LENGTHS, API_VERSION, GROUP, VERSION } from '../../operator/api/index.ts';
import { parseQuantity } from '../../operator/runtime/heap.ts';
import { chartMemoryLimit } from '../bench/process-stats.ts';
import { create, groupService, tokenFor } from '../dispatch/harness.ts';
import type { RunningCommand } from '../packaging/processes.ts';
import { startChartCommand } from '../support/chart-command.ts';
import { createRetrying } from '../support/create-retrying.ts';
import { eventually } from '../support/kube.ts';
import { useOwnControlPlane } from '../support/private-control-plane.ts';
import { useTenants } from './tenants.ts';

/**
 * What one tenant can make the operator hold by writing AlarmEvents: the operator runs as its own
 * process as the chart installs it (every namespace, its flags, its heap sized from its memory limit), on a
 * control plane of its own so that it holds no other test file's objects. The attacker writes 500
 * AlarmEvents as large as the CRD admits, plus as many metadata.annotations as Kubernetes admits (which
 * no CRD can bound); the previous code cached them whole and listed them in one page, and went past its
 * heap. The operator stays up under the limit, the victim's alarm is delivered, and after a restart with
 * the events present it lists them, syncs, delivers again and stays up.
 */

const MiB = 2 ** 20;
const LIMIT = chartMemoryLimit('operator');
const EVENTS = 500;

useOwnControlPlane('alarm-event-memory');
const tenants = useTenants({ inProcess: false });
let operator: RunningCommand | undefined;

afterAll(async () => {
  await operator?.stop();
});

/**
 * The largest spec the CRD admits, in characters V8 keeps at two bytes each: the title, the message,
 * labels and annotations at their totals (ALARM_EVENT_MAP_LENGTHS).
 */
function maximalSpec(i: number) {
  const wide = (n: number) => '警'.repeat(n);
  // Entries whose keys and values fill the map's total exactly.
  const map = (entries: number, total: number, prefix: string) =>
    Object.fromEntries(
      Array.from({ length: entries }, (_, j) => {
        const key = `${prefix}-${j}-${i % 10}`;
        return [key, wide(total / entries - key.length)];
      }),
    );
  return {
    severity: 'warning',
    title: `${i} ${wide(250)}`,
    message: wide(16_384),
    labels: map(8, ALARM_EVENT_MAP_LENGTHS.labels, 'label'),
    annotations: map(4, ALARM_EVENT_MAP_LENGTHS.annotations, 'annotation'),
  };
}

/** metadata.annotations as large as the API server admits (256 KiB in all), which no CRD can bound. */
const foreignAnnotations = Object.fromEntries(
  Array.from({ length: 63 }, (_, j) => [`example.com/blob-${j}`, 'x'.repeat(4_096)]),
);

async function flood(count: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      await createRetrying(() =>
        tenants.attacker.api.createNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace: tenants.attacker.namespace,
          plural: 'alarmevents',
          body: {
            apiVersion: API_VERSION,
            kind: 'AlarmEvent',
            metadata: { name: `flood-${i}`, annotations: foreignAnnotations },
            spec: maximalSpec(i),
          },
        }),
      );
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
}

function startOperator(): Promise<RunningCommand> {
  return startChartCommand('operator', { emulatorUrl: tenants.emulator.url });
}

/** The process's peak resident memory since it started (VmHWM); the process must still be running. */
function peakRss(running: RunningCommand): number {
  let status: string;
  try {
    status = readFileSync(`/proc/${running.pid}/status`, 'utf8');
  } catch {
    throw new Error(`the operator is gone; its last output:\n${running.output()}`);
  }
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1]) * 1024;
}

/**
 * Delivered to the victim's robot within a minute of being raised (the expectation). Watching
 * every namespace, the operator sees the victim's AlarmEvent only after the attacker's ahead of it in the
 * one watch, which the API server encodes and sends at its pace: printed for a human, how long it took.
 */
async function victimAlarmDelivered(name: string, token: string): Promise<void> {
  await create(tenants.victim, 'AlarmEvent', name, { severity: 'critical', title: `victim ${name}` });
  const raised = Date.now();
  await eventually(
    async () => {
      if (operator?.pid !== undefined) peakRss(operator);
      const messages = await tenants.emulator.control.messages({ robot: token });
      return messages.some((m) => m.text.includes(`victim ${name}`)) ? true : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 500 },
  );
  console.log(
    `the victim's alarm "${name}" was delivered ${((Date.now() - raised) / 1000).toFixed(1)} s after it was raised`,
  );
}

describe('AlarmEvents as large as the CRD admits, from one tenant', () => {
  const token = tokenFor('ae-memory');

  beforeAll(async () => {
    await groupService(tenants.victim, 'victim', { token, groupName: 'victim' });
    await create(tenants.victim, 'AlarmRule', 'victim', {
      services: [{ name: 'victim' }],
      grouping: { groupWait: '1s', groupInterval: '1s', repeatInterval: '4h' },
    });
  });

  it('leave the operator up under the chart limit, the victim served, before and after a restart', async () => {
    const limit = parseQuantity(LIMIT) as number;
    operator = await startOperator();
    const started = Date.now();
    await flood(EVENTS);
    // Read by a human in the test's output: how long the flood takes on this machine.
    console.log(`created ${EVENTS} maximal AlarmEvents in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    await victimAlarmDelivered('first', token);
    const watching = peakRss(operator);

    await operator.stop();
    operator = await startOperator();
    await victimAlarmDelivered('after-restart', token);
    const relisting = peakRss(operator);

    console.log(
      `operator peak RSS ${(watching / MiB).toFixed(0)} MiB watching the flood, ${(relisting / MiB).toFixed(0)} MiB relisting it (limit ${LIMIT})`,
    );
    expect(watching).toBeLessThan(limit);
    expect(relisting).toBeLessThan(limit);
  }, 900_000);
});
