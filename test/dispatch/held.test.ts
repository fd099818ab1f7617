import { CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { eventually, testKubeConfig } from '../support/kube.ts';
import { create, get, groupService, patch, secret, tokenFor, useDispatch, waitForPhase } from './harness.ts';

const h = useDispatch({ heldCheckIntervalMs: 1_000 });

type Deliveries = {
  state: string;
  reason?: string;
  errcode?: string;
  heldSince?: string;
  msgUuid?: string;
}[];
const deliveriesOf = (event: { status?: Record<string, unknown> }) =>
  (event.status?.deliveries ?? []) as Deliveries;
type Condition = { type: string; status: string; reason: string; message: string };
const conditionOf = (obj: { status?: Record<string, unknown> }, type: string) =>
  (obj.status?.conditions as Condition[] | undefined)?.find((c) => c.type === type);

const fastGrouping = { groupWait: '1s', groupInterval: '1s', repeatInterval: '4h' };
const FINAL = ['Delivered', 'PartiallyDelivered', 'Failed', 'Suppressed', 'NoMatchingRule'];

async function serviceCondition(name: string, status: string) {
  return eventually(
    async () => {
      const ready = conditionOf(await get(h, 'DingTalkService', name), 'Ready');
      return ready?.status === status ? ready : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 250 },
  );
}

async function patchSecret(name: string, stringData: Record<string, string>): Promise<void> {
  await testKubeConfig()
    .makeApiClient(CoreV1Api)
    .patchNamespacedSecret(
      { namespace: h.namespace, name, body: { stringData } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
}

describe('alarms DingTalk refuses for a configuration reason are held, not lost', () => {
  it('holds alarms signed with a wrong secret, says so on the service, and sends each once after the Secret is fixed', async () => {
    const token = tokenFor('heldsign');
    const robotSecret = `SEC${'a'.repeat(64)}`;
    await groupService(h, 'signed', {
      token,
      groupName: 'signed',
      secret: robotSecret,
      operatorSecret: `SEC${'b'.repeat(64)}`,
    });
    await create(h, 'AlarmRule', 'to-signed', {
      services: [{ name: 'signed' }],
      match: { sources: ['signed-source'] },
      grouping: fastGrouping,
    });
    await create(h, 'AlarmEvent', 'first', {
      severity: 'critical',
      title: 'First held',
      source: 'signed-source',
    });
    const first = await waitForPhase(h, 'first', ['Held', ...FINAL]);
    expect(first.status?.phase).toBe('Held');
    expect(deliveriesOf(first)[0]).toMatchObject({
      state: 'Held',
      reason: 'Held',
      errcode: '310000',
      heldSince: expect.any(String),
    });
    const ready = await serviceCondition('signed', 'False');
    expect(ready.reason).toBe('Held');
    expect(ready.message).toContain('group signed');
    expect(ready.message).toContain('errcode 310000');
    expect(conditionOf(await get(h, 'DingTalkService', 'signed'), 'CredentialsValid')?.status).toBe('False');

    // A later alarm for the refused target waits with the first, without another refused send.
    await create(h, 'AlarmEvent', 'second', {
      severity: 'warning',
      title: 'Second held',
      source: 'signed-source',
    });
    expect((await waitForPhase(h, 'second', ['Held', ...FINAL])).status?.phase).toBe('Held');
    expect((await h.emulator.control.stats()).robotSends[token]).toBe(1);
    expect(await h.emulator.control.messages({ robot: token })).toHaveLength(0);

    await patchSecret('signed-robot', { signature: robotSecret });
    await waitForPhase(h, 'first', ['Delivered']);
    await waitForPhase(h, 'second', ['Delivered']);
    const messages = await h.emulator.control.messages({ robot: token });
    expect(messages).toHaveLength(2);
    expect(messages.map((m) => m.text).join('\n')).toContain('First held');
    expect(messages.map((m) => m.text).join('\n')).toContain('Second held');
    expect((await h.emulator.control.stats()).shownDuplicates).toBe(0);
    expect((await serviceCondition('signed', 'True')).status).toBe('True');
  });

  it('holds alarms refused by the robot IP allow-list and releases them when the service is touched after the fix', async () => {
    const token = tokenFor('heldip');
    await groupService(h, 'allow-list', { token, groupName: 'allow-list' });
    await h.emulator.control.putRobot(token, { name: 'allow-list', ipAllowList: ['10.9.9.9'] });
    await create(h, 'AlarmRule', 'to-allow-list', {
      services: [{ name: 'allow-list' }],
      match: { sources: ['ip-source'] },
      grouping: fastGrouping,
    });
    await create(h, 'AlarmEvent', 'refused-ip', {
      severity: 'critical',
      title: 'From here',
      source: 'ip-source',
    });
    const held = await waitForPhase(h, 'refused-ip', ['Held', ...FINAL]);
    expect(deliveriesOf(held)[0]).toMatchObject({ state: 'Held', errcode: '310000' });

    // The fix is on DingTalk's side; any change of the service's annotations says it is done.
    await h.emulator.control.putRobot(token, { name: 'allow-list' });
    await patch(h, 'DingTalkService', 'allow-list', {
      metadata: { annotations: { 'example.com/fixed': 'allow-list' } },
    });
    const delivered = await waitForPhase(h, 'refused-ip', ['Delivered']);
    expect(deliveriesOf(delivered)[0]?.msgUuid).toBe(deliveriesOf(held)[0]?.msgUuid);
    expect(await h.emulator.control.messages({ robot: token })).toHaveLength(1);
  });

  it("holds member alarms refused for a wrong robotCode and sends them once the service's robotCode is fixed", async () => {
    await h.emulator.control.putApp('held-app', { clientSecret: 'held-secret' });
    await h.emulator.control.putUser('held-user', { name: 'Held User' });
    await secret(h, 'held-app', { clientSecret: 'held-secret' });
    await create(h, 'DingTalkService', 'members-held', {
      sendTo: ['Member'],
      member: {
        clientId: 'held-app',
        robotCode: 'no-such-robot',
        clientSecret: { name: 'held-app', key: 'clientSecret' },
        members: [{ userId: 'held-user' }],
      },
    });
    await create(h, 'AlarmRule', 'to-members-held', {
      services: [{ name: 'members-held' }],
      match: { sources: ['robotcode-source'] },
      grouping: fastGrouping,
    });
    await create(h, 'AlarmEvent', 'page', {
      severity: 'critical',
      title: 'Paged late',
      source: 'robotcode-source',
    });
    const held = await waitForPhase(h, 'page', ['Held', ...FINAL]);
    expect(held.status?.phase).toBe('Held');
    expect(deliveriesOf(held)[0]).toMatchObject({
      state: 'Held',
      errcode: 'invalidParameter.robotCode.notExsit',
    });

    await patch(h, 'DingTalkService', 'members-held', { spec: { member: { robotCode: 'held-app' } } });
    await waitForPhase(h, 'page', ['Delivered']);
    const messages = await h.emulator.control.messages({ userId: 'held-user' });
    expect(messages).toHaveLength(1);
    expect(messages[0]?.text).toContain('Paged late');
  });
});
