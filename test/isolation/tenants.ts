import { CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, beforeAll } from 'vitest';
import { componentFactories } from '../../operator/components.ts';
import { loadConfig } from '../../operator/config.ts';
import { Manager } from '../../operator/manager/manager.ts';
import { createLogger } from '../../operator/runtime/logger.ts';
import { create, type DispatchHarness, kubeconfigPath, waitForPhase } from '../dispatch/harness.ts';
import { type RunningEmulator, startEmulator } from '../emulator/server.ts';
import { createTestNamespace, testKubeConfig } from '../support/kube.ts';
import { operatorFlags } from '../support/operator-flags.ts';

/**
 * Two teams on one install: an attacker's namespace and a victim's, one DingTalk emulator, and (unless
 * a test runs the operator itself, as the chart does) the operator in-process, every controller, watching
 * both namespaces only, as the run's shared control plane needs. Each tenant is a
 * DispatchHarness, so the helpers of test/dispatch/harness.ts act in that tenant's namespace.
 */
export interface Tenants {
  attacker: DispatchHarness;
  victim: DispatchHarness;
  emulator: RunningEmulator;
}

export function useTenants({ inProcess = true } = {}): Tenants {
  const tenants = {} as Tenants;
  const cleanups: (() => Promise<void>)[] = [];
  let manager: Manager | undefined;
  beforeAll(async () => {
    const [attacker, victim] = await Promise.all([
      createTestNamespace('attacker'),
      createTestNamespace('victim'),
    ]);
    cleanups.push(attacker.cleanup, victim.cleanup);
    tenants.emulator = await startEmulator();
    if (inProcess) {
      const config = loadConfig({
        argv: [
          '--kubeconfig',
          kubeconfigPath(),
          ...operatorFlags(tenants.emulator.url, `${attacker.name},${victim.name}`, ['--log-level', 'warn']),
        ],
        env: {},
      });
      manager = new Manager(config, createLogger({ level: 'warn' }), componentFactories);
      void manager.run();
    }
    const api = testKubeConfig().makeApiClient(CustomObjectsApi);
    const tenant = (namespace: string) =>
      ({ namespace, emulator: tenants.emulator, api, manager }) as DispatchHarness;
    tenants.attacker = tenant(attacker.name);
    tenants.victim = tenant(victim.name);
  });
  afterAll(async () => {
    await manager?.shutdown();
    await tenants.emulator?.close();
    await Promise.all(cleanups.map((c) => c()));
  });
  return tenants;
}

/** Alertmanager-like timing that sends within seconds. */
export const fastGrouping = { groupWait: '1s', groupInterval: '1s', repeatInterval: '4h' };

/**
 * Raises `count` alarms in each tenant, interleaved (attacker, victim, attacker, …), and waits until every
 * one is delivered: the victim's on time, the attacker's however its rule renders them.
 */
export async function raiseSideBySide(t: Tenants, count: number): Promise<void> {
  const attacks = Array.from({ length: count }, (_, i) => `attack-${i}`);
  const victims = Array.from({ length: count }, (_, i) => `during-${i}`);
  for (let i = 0; i < count; i++) {
    await create(t.attacker, 'AlarmEvent', attacks[i] as string, {
      severity: 'critical',
      title: `attack ${i}`,
      labels: { i: String(i) },
    });
    await create(t.victim, 'AlarmEvent', victims[i] as string, { severity: 'warning', title: `during ${i}` });
  }
  for (const name of victims) await waitForPhase(t.victim, name, ['Delivered'], 90_000);
  for (const name of attacks) await waitForPhase(t.attacker, name, ['Delivered'], 90_000);
}
