import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, kubeconfigPath, tokenFor, useDispatch } from '../dispatch/harness.ts';
import { serviceAccountToken } from '../receiver/support.ts';
import { eventually, testKubeConfig } from '../support/kube.ts';
import {
  deliveriesByInstance,
  exampleConfig,
  freePort,
  instanceName,
  type RunningAlertmanager,
  type RunningReceiver,
  receiverCount,
  robotForAlertmanager,
  startAlertmanager,
  startReceiverCommand,
  stormAlerts,
  tokenFile,
} from './harness.ts';

/**
 * A real Alertmanager, configured by examples/alertmanager/alertmanager.yml, in front of the receiver
 * (its command, default settings) and the operator, with the DingTalk emulator as DingTalk. One robot
 * takes 20 messages a minute, so a storm reaches it as digests.
 */

const h = useDispatch();

describe('Alertmanager in front of the receiver', () => {
  let am: RunningAlertmanager;
  let receiver: RunningReceiver;
  let token: ReturnType<typeof tokenFile>;
  const robot = tokenFor('am');

  beforeAll(async () => {
    const kubeConfig = testKubeConfig();
    token = tokenFile(
      await serviceAccountToken(kubeConfig, h.namespace, 'alertmanager', { mayCreate: true }),
    );
    receiver = await startReceiverCommand(kubeconfigPath(), await freePort());
    am = await startAlertmanager(exampleConfig(receiver.url, h.namespace, token.path));
    await robotForAlertmanager(kubeConfig, h.namespace, h.emulator, robot);
    await eventually(async () => {
      const rule = await get(h, 'AlarmRule', 'ops');
      const conditions = rule.status?.conditions as { type: string; status: string }[] | undefined;
      return conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? true : undefined;
    });
  }, 600_000);

  afterAll(async () => {
    await am?.stop();
    await receiver?.kill();
    token?.remove();
  });

  async function deliveries(from: number, count: number) {
    const all = deliveriesByInstance(await h.emulator.control.messages({ robot }));
    return Array.from({ length: count }, (_, i) => ({
      instance: instanceName(from + i),
      ...(all.get(instanceName(from + i)) ?? { firing: 0, resolved: 0 }),
    }));
  }

  it('sends one firing and one resolved message per alarm, however often Alertmanager re-sends the group', async () => {
    const from = 20_000;
    const startsAt = new Date();
    const alerts = stormAlerts('NodeDown', from, 300, startsAt);
    await am.post(alerts);
    await eventually(
      async () => ((await deliveries(from, 300)).every((d) => d.firing > 0) ? true : undefined),
      { timeoutMs: 180_000, intervalMs: 2_000 },
    );
    // One more alert changes the group: Alertmanager sends all 301 again at its next group_interval.
    const existsBefore = await receiverCount(receiver, 'exists');
    const late = stormAlerts('NodeDown', from + 300, 1, startsAt);
    await am.post(late);
    await eventually(async () => ((await deliveries(from + 300, 1))[0]?.firing ? true : undefined), {
      timeoutMs: 180_000,
      intervalMs: 2_000,
    });
    expect((await receiverCount(receiver, 'exists')) - existsBefore).toBeGreaterThanOrEqual(300);

    const endsAt = new Date().toISOString();
    await am.post([...alerts, ...late].map((alert) => ({ ...alert, endsAt })));
    const settled = await eventually(
      async () => {
        const seen = await deliveries(from, 301);
        return seen.every((d) => d.resolved > 0) ? seen : undefined;
      },
      { timeoutMs: 180_000, intervalMs: 2_000 },
    );
    expect(settled.filter((d) => d.firing !== 1 || d.resolved !== 1)).toEqual([]);
  }, 600_000);
});
