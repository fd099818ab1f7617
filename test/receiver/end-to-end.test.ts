import { describe, expect, it } from 'vitest';
import { create, get, groupService, tokenFor, useDispatch, waitForPhase } from '../dispatch/harness.ts';
import { eventually, testKubeConfig } from '../support/kube.ts';
import { alertmanagerPayload, diskAlert, postJson, serviceAccountToken, startReceiver } from './support.ts';

/** Alertmanager → receiver → AlarmEvents → dispatcher → messages in the DingTalk emulator. */

const h = useDispatch();

describe('Alertmanager alerts through the receiver to DingTalk', () => {
  it('delivers 3 alerts and then their resolution as messages once, however often each payload comes', async () => {
    const token = tokenFor('rcv');
    await groupService(h, 'ops', { token });
    await create(h, 'AlarmRule', 'alertmanager-to-ops', {
      services: [{ name: 'ops' }],
      match: { sources: ['alertmanager'] },
      grouping: { groupWait: '1s', groupInterval: '1s', repeatInterval: '4h' },
    });
    await eventually(async () => {
      const rule = await get(h, 'AlarmRule', 'alertmanager-to-ops');
      const ready = (rule.status?.conditions as { type: string; status: string }[] | undefined)?.find(
        (c) => c.type === 'Ready',
      );
      return ready?.status === 'True' ? ready : undefined;
    });
    const kubeConfig = testKubeConfig();
    const saToken = await serviceAccountToken(kubeConfig, h.namespace, 'alertmanager', { mayCreate: true });
    const receiver = await startReceiver(kubeConfig, { defaultNamespace: h.namespace });
    try {
      const payload = alertmanagerPayload([diskAlert(1), diskAlert(2), diskAlert(3)]);
      expect((await postJson(`${receiver.url}/api/v1/alertmanager`, payload, saToken)).status).toBe(202);
      const names = [1, 2, 3].map((node) => `fp-000000000000000${node}-1777622400123`);
      const generations = () =>
        Promise.all(
          names.map(
            async (name) =>
              ((await get(h, 'AlarmEvent', name)).metadata as { generation: number }).generation,
          ),
        );
      /** Posts a payload again: every alarm is answered as already stored, and no AlarmEvent's spec changed. */
      const repeatChangesNothing = async (again: unknown, state: 'firing' | 'resolved') => {
        const before = await generations();
        const answer = await postJson(`${receiver.url}/api/v1/alertmanager`, again, saToken);
        expect(answer.status).toBe(202);
        expect(answer.json.alarms).toHaveLength(names.length);
        for (const name of names)
          expect(answer.json.alarms).toContainEqual(
            expect.objectContaining({ name, state, result: 'exists' }),
          );
        expect(await generations()).toEqual(before);
      };
      for (const name of names) await waitForPhase(h, name, ['Delivered']);
      const messages = await h.emulator.control.messages({ robot: token });
      const text = messages.map((m) => m.text).join('\n');
      for (const node of [1, 2, 3]) expect(text).toContain(`Disk almost full on node-${node}`);

      // Alertmanager repeats a notification: the receiver writes nothing, so the dispatcher hears of
      // nothing it could send again.
      await repeatChangesNothing(payload, 'firing');
      expect(await h.emulator.control.messages({ robot: token })).toHaveLength(messages.length);

      // The same alerts resolved: the receiver patches those AlarmEvents, and the group hears of it.
      const firingUuids = new Map<string, string | undefined>();
      for (const name of names) firingUuids.set(name, msgUuidOf(await get(h, 'AlarmEvent', name)));
      const resolved = alertmanagerPayload([1, 2, 3].map((node) => diskAlert(node, 'resolved')));
      expect((await postJson(`${receiver.url}/api/v1/alertmanager`, resolved, saToken)).status).toBe(202);
      const resolvedUuids = new Set<string | undefined>();
      for (const name of names) {
        const event = await eventually(
          async () => {
            const e = await get(h, 'AlarmEvent', name);
            const spec = e.spec as { state: string };
            return spec.state === 'resolved' &&
              e.status?.phase === 'Delivered' &&
              msgUuidOf(e) !== firingUuids.get(name)
              ? e
              : undefined;
          },
          { timeoutMs: 30_000, intervalMs: 250 },
        );
        expect(event.status?.deliveries).toEqual([
          expect.objectContaining({ state: 'Delivered', attempts: 1 }),
        ]);
        resolvedUuids.add(msgUuidOf(event));
      }
      const resolvedMessages = (await h.emulator.control.messages({ robot: token })).slice(messages.length);
      // One message per notification the ledger records, each marked resolved and naming its alarms.
      expect(new Set(resolvedMessages.map((m) => m.msgUuid))).toEqual(resolvedUuids);
      expect(resolvedMessages).toHaveLength(resolvedUuids.size);
      for (const message of resolvedMessages) expect(message.title).toContain('【RESOLVED】');
      const resolvedText = resolvedMessages.map((m) => m.text).join('\n');
      for (const node of [1, 2, 3]) expect(resolvedText).toContain(`Disk almost full on node-${node}`);

      // Alertmanager repeats resolved notifications too; nothing more is sent.
      await repeatChangesNothing(resolved, 'resolved');
      expect(await h.emulator.control.messages({ robot: token })).toHaveLength(
        messages.length + resolvedMessages.length,
      );
    } finally {
      await receiver.close();
    }
  });
});

function msgUuidOf(event: { status?: Record<string, unknown> }): string | undefined {
  return (event.status?.deliveries as { msgUuid?: string }[] | undefined)?.[0]?.msgUuid;
}
