import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type RunningEmulator, startEmulator } from '../emulator/server.ts';
import { type RunningCommand, startCommand } from '../packaging/processes.ts';
import { createTestNamespace, eventually, kubectl } from '../support/kube.ts';
import { operatorFlags } from '../support/operator-flags.ts';
import { acknowledgeDemoCard, demoAlarmOutcome, demoReadiness, seedDemo } from './demo.ts';

// What `make run` shows a newcomer without a kubeconfig: seed-demo.ts teaches the emulator the examples'
// robots, app and users and applies the examples; the operator then validates them and delivers the
// demo alarm. Nothing of that first screen may be a failure.
let namespace: Awaited<ReturnType<typeof createTestNamespace>>;
let emulator: RunningEmulator;
let operator: RunningCommand;

beforeAll(async () => {
  namespace = await createTestNamespace('demo');
  emulator = await startEmulator();
  await seedDemo(emulator.url, namespace.name);
  operator = startCommand([
    'run',
    '--kubeconfig',
    inject('kubeconfig'),
    ...operatorFlags(emulator.url, namespace.name),
  ]);
});

afterAll(async () => {
  await operator?.stop();
  await emulator?.close();
  await namespace?.cleanup();
});

describe('the make run demo', () => {
  it('has every DingTalkService and AlarmRule of the examples Ready', async () => {
    const { services, rules } = await demoReadiness(namespace.name, 60_000);
    expect(
      services.filter((s) => s.ready !== 'True'),
      operator.output(),
    ).toEqual([]);
    expect(rules.filter((r) => r.ready !== 'True')).toEqual([]);
  });

  it('delivers the demo alarm to every target, the on-call members included', async () => {
    const { status, memberMessages, memberCards } = await demoAlarmOutcome(
      namespace.name,
      emulator.control,
      90_000,
    );
    expect(status?.phase, JSON.stringify(status)).toBe('Delivered');
    expect(memberMessages.length + memberCards.length).toBeGreaterThan(0);
  });

  it("shows who clicked Acknowledge on the demo alarm's card in kubectl get ae", async () => {
    const columns = await acknowledgeDemoCard(namespace.name, emulator.control);
    expect(columns).toMatch(/Acknowledged\s+Zhang Wei/);
  });

  it('delivers a critical alarm raised after the demo one through every rule at its groupWait, not the next group interval', async () => {
    await demoAlarmOutcome(namespace.name, emulator.control, 90_000);
    await kubectl(
      ['apply', '-n', namespace.name, '-f', '-'],
      JSON.stringify({
        apiVersion: 'dingtalk.alarming.io/v1alpha1',
        kind: 'AlarmEvent',
        metadata: { name: 'backup-failed' },
        spec: {
          severity: 'critical',
          title: 'Nightly backup failed',
          state: 'firing',
          labels: { alertname: 'BackupFailed' },
        },
      }),
    );
    // Well inside the rules' groupInterval (2m and 5m): a rule grouping every critical alarm together would
    // hold this one until its group's next flush.
    const phase = await eventually(
      async () => {
        const out = JSON.parse(
          await kubectl(['get', 'ae', 'backup-failed', '-n', namespace.name, '-o', 'json']),
        );
        const current = out.status?.phase as string | undefined;
        return current && !['Pending', 'Delivering'].includes(current) ? out.status : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 500 },
    );
    expect(phase.phase, JSON.stringify(phase)).toBe('Delivered');
  });
});
