import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeconfigPath } from '../dispatch/harness.ts';
import { listAlarmEvents, serviceAccountToken } from '../receiver/support.ts';
import { createTestNamespace, eventually, testKubeConfig } from '../support/kube.ts';
import {
  exampleConfig,
  freePort,
  type RunningAlertmanager,
  type RunningReceiver,
  startAlertmanager,
  startReceiverCommand,
  stormAlerts,
  tokenFile,
} from './harness.ts';

/**
 * What the README promises for a `429`: a real Alertmanager, configured by
 * examples/alertmanager/alertmanager.yml, sends a group of more new alerts than its namespace's rate
 * allows. The receiver stores what fits and answers 429; Alertmanager does not retry it at once (as it
 * would a 5xx) but sends the group again at its next group_interval, when the rest fits: nothing is lost.
 */

const ALERTS = 60;

describe('Alertmanager sending more than its namespace may write', () => {
  const kubeConfig = testKubeConfig();
  let namespace: { name: string; cleanup: () => Promise<void> };
  let token: ReturnType<typeof tokenFile>;
  let receiver: RunningReceiver;
  let am: RunningAlertmanager;

  beforeAll(async () => {
    namespace = await createTestNamespace('am-rate');
    token = tokenFile(
      await serviceAccountToken(kubeConfig, namespace.name, 'alertmanager', { mayCreate: true }),
    );
    // Two thirds of the group at once, then one a second: the rest fits again within a group_interval
    // (30 s), not within the backoff of an immediate retry.
    receiver = await startReceiverCommand(kubeconfigPath(), await freePort(), [
      '--namespace-rate=1',
      '--namespace-burst=40',
    ]);
    am = await startAlertmanager(exampleConfig(receiver.url, namespace.name, token.path));
  }, 600_000);

  afterAll(async () => {
    await am?.stop();
    await receiver?.kill();
    token?.remove();
    await namespace?.cleanup();
  });

  /** The receiver's answers to Alertmanager so far, by status code. */
  async function answers(): Promise<Record<string, number>> {
    const text = await (await fetch(`${receiver.url}/metrics`)).text();
    const counts: Record<string, number> = {};
    for (const match of text.matchAll(
      /^dingtalk_operator_receiver_requests_total\{endpoint="alertmanager",code="(\d+)"\} (\d+)/gm,
    )) {
      counts[match[1] as string] = Number(match[2]);
    }
    return counts;
  }

  it('is answered 429 once, and the group sent again at the next group_interval stores the rest', async () => {
    await am.post(stormAlerts('DiskFull', 0, ALERTS, new Date()));
    const limited = await eventually(
      async () => ((await answers())['429'] ? await listAlarmEvents(kubeConfig, namespace.name) : undefined),
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    expect(limited.length).toBeGreaterThanOrEqual(40);
    expect(limited.length).toBeLessThan(ALERTS);

    await eventually(
      async () => ((await listAlarmEvents(kubeConfig, namespace.name)).length === ALERTS ? true : undefined),
      { timeoutMs: 180_000, intervalMs: 1_000 },
    );
    // Retried at once, as a 5xx is, the refill would not have covered the rest: more 429s would show.
    const codes = await eventually(async () => {
      const seen = await answers();
      return seen['202'] ? seen : undefined;
    });
    expect(codes['429']).toBe(1);
    expect(Object.keys(codes).sort()).toEqual(['202', '429']);
  }, 600_000);
});
