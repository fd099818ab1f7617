import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type RunningEmulator, startEmulator } from '../emulator/server.ts';
import { createTestNamespace, eventually, kubectl, testKubeConfig } from '../support/kube.ts';
import {
  condition,
  hex,
  objects,
  type RunningOperator,
  type ServiceStatusView,
  signatureSecret,
  startOperator,
} from './harness.ts';

/**
 * The DingTalkService controller end to end: the operator runs in-process against the test control
 * plane and talks to the DingTalk emulator. Every secret value a test uses is remembered, and the last
 * test checks that none of them appears in a log line, an event or a status.
 */
describe('DingTalkService controller', () => {
  const kubeConfig = testKubeConfig();
  let namespace: string;
  let cleanup: () => Promise<void>;
  let emulator: RunningEmulator;
  let operator: RunningOperator;
  let o: ReturnType<typeof objects>;
  const logs: string[] = [];
  const secretValues: string[] = [];

  const remember = <T extends string>(value: T): T => {
    secretValues.push(value);
    return value;
  };
  const start = () => {
    operator = startOperator({ kubeconfig: inject('kubeconfig'), namespace, emulatorUrl: emulator.url });
  };
  const stop = async () => {
    await operator.stop();
    logs.push(...operator.logs);
  };
  const until = (name: string, check: (view: ServiceStatusView) => boolean) =>
    eventually(async () => {
      const view = await o.service(name);
      return check(view) ? view : undefined;
    });

  beforeAll(async () => {
    ({ name: namespace, cleanup } = await createTestNamespace('dts'));
    o = objects(kubeConfig, namespace);
    emulator = await startEmulator();
    start();
  });
  afterAll(async () => {
    await stop();
    await emulator.close();
    await cleanup();
  });

  /** A robot, an app and a user in the emulator, the Secrets naming them, and a service using both. */
  async function validService(name: string, spec: Record<string, unknown> = {}) {
    const token = remember(hex(32));
    const sign = remember(signatureSecret());
    const clientSecret = remember(hex());
    const clientId = `ding-${name}`;
    await emulator.control.putRobot(token, { name, secret: sign, keywords: ['alarm'] });
    await emulator.control.putApp(clientId, { clientSecret });
    await emulator.control.putUser(`u-${name}`, { name: `User ${name}` });
    await o.putSecret(`${name}-robot`, {
      webhook: `${emulator.url}/robot/send?access_token=${token}`,
      sign,
    });
    await o.putSecret(`${name}-app`, { clientSecret });
    await o.createService(name, {
      sendTo: ['Group', 'Member'],
      groups: [
        {
          name: 'ops',
          webhook: { name: `${name}-robot`, key: 'webhook' },
          signature: { name: `${name}-robot`, key: 'sign' },
          keywords: ['alarm'],
        },
      ],
      member: {
        clientId,
        clientSecret: { name: `${name}-app`, key: 'clientSecret' },
        members: [{ userId: `u-${name}` }],
      },
      ...spec,
    });
    return { token, clientId, userId: `u-${name}` };
  }

  it('makes a valid group and member service Ready, and kubectl wait sees it', async () => {
    const { token } = await validService('valid');
    await kubectl(['wait', '--for=condition=Ready', '--timeout=60s', '-n', namespace, 'dts/valid']);

    const { status, generation } = await o.service('valid');
    expect(status.observedGeneration).toBe(generation);
    expect(condition(status, 'CredentialsValid')).toMatchObject({ status: 'True' });
    expect(condition(status, 'MembersResolved')).toMatchObject({ status: 'True' });
    expect(condition(status, 'Stalled')).toBeUndefined();
    expect(status.groups).toEqual([
      expect.objectContaining({ name: 'ops', ready: true, reason: 'Validated' }),
    ]);
    expect(status.member).toMatchObject({ ready: true, resolvedMembers: 1, unknownMembers: 0 });
    expect(Date.parse(status.member?.tokenExpiresAt ?? '')).toBeGreaterThan(Date.now());
    // Validation spends none of the robot's 20 messages a minute.
    expect(await emulator.control.messages({ robot: token })).toEqual([]);
  });

  it('reports a wrong ClientSecret as InvalidCredentials, and recovers when the Secret is fixed', async () => {
    const right = remember(hex());
    const wrong = remember(hex());
    await emulator.control.putApp('ding-wrong', { clientSecret: right });
    await emulator.control.putUser('u-wrong', { name: 'Wrong' });
    await o.putSecret('wrong-app', { clientSecret: wrong });
    await o.createService('wrong', {
      sendTo: ['Member'],
      member: {
        clientId: 'ding-wrong',
        clientSecret: { name: 'wrong-app', key: 'clientSecret' },
        members: [{ userId: 'u-wrong' }],
      },
    });
    const refused = await until(
      'wrong',
      ({ status }) => condition(status, 'CredentialsValid')?.status === 'False',
    );
    expect(condition(refused.status, 'CredentialsValid')).toMatchObject({ reason: 'InvalidCredentials' });
    expect(condition(refused.status, 'CredentialsValid')?.message).toContain('invalidClientIdOrSecret');
    expect(condition(refused.status, 'Ready')).toMatchObject({
      status: 'False',
      reason: 'InvalidCredentials',
    });

    await o.putSecret('wrong-app', { clientSecret: right });
    const fixed = await until('wrong', ({ status }) => condition(status, 'Ready')?.status === 'True');
    expect(condition(fixed.status, 'CredentialsValid')).toMatchObject({ status: 'True' });
    expect(fixed.generation).toBe(refused.generation);
  });

  it('names a missing Secret, and turns Ready once it is created', async () => {
    const token = remember(hex(32));
    await emulator.control.putRobot(token, { name: 'late' });
    await o.createService('late', {
      sendTo: ['Group'],
      groups: [{ name: 'ops', webhook: { name: 'late-robot', key: 'webhook' } }],
    });
    const missing = await until('late', ({ status }) => condition(status, 'Ready')?.status === 'False');
    expect(condition(missing.status, 'Ready')).toMatchObject({ reason: 'SecretNotFound' });
    expect(condition(missing.status, 'Ready')?.message).toContain('Secret "late-robot" not found');
    expect(missing.status.groups?.[0]).toMatchObject({ ready: false, reason: 'SecretNotFound' });

    await o.putSecret('late-robot', { webhook: token });
    await until('late', ({ status }) => condition(status, 'Ready')?.status === 'True');
  });

  it('resolves members given by mobile and reports an unknown userId without failing the service', async () => {
    const clientSecret = remember(hex());
    await emulator.control.putApp('ding-people', { clientSecret });
    await emulator.control.putUser('u-mobile', { name: 'Han', mobile: '13800000002' });
    await o.putSecret('people-app', { clientSecret });
    await o.createService('people', {
      sendTo: ['Member'],
      member: {
        clientId: 'ding-people',
        clientSecret: { name: 'people-app', key: 'clientSecret' },
        members: [{ mobile: '+86-13800000002' }, { userId: 'ghost', name: 'Ghost' }],
      },
    });
    const { status } = await until('people', ({ status }) => condition(status, 'Ready')?.status === 'True');
    expect(status.member).toMatchObject({
      ready: true,
      resolvedMembers: 1,
      unknownMembers: 1,
      unknownMemberNames: ['Ghost'],
    });
    expect(condition(status, 'MembersResolved')).toMatchObject({
      status: 'False',
      reason: 'MembersUnresolved',
    });
  });

  it('sends a test message to every target when the test annotation changes, once per value', async () => {
    const { token, userId } = await validService('tested');
    await until('tested', ({ status }) => condition(status, 'Ready')?.status === 'True');

    await o.patch('tested', { metadata: { annotations: { 'dingtalk.alarming.io/test': 'first' } } });
    const { status } = await until('tested', ({ status }) => status.lastHandledTest === 'first');
    expect(status.lastTest).toMatchObject({ result: 'Succeeded' });
    expect(status.groups?.[0]?.lastTest).toMatchObject({ result: 'Succeeded' });
    expect(status.member?.lastTest).toMatchObject({ result: 'Succeeded' });
    const groupMessages = await emulator.control.messages({ robot: token });
    expect(groupMessages).toHaveLength(1);
    expect(groupMessages[0]?.text).toContain('Test message');
    expect(await emulator.control.messages({ userId })).toHaveLength(1);

    // A restarted operator sees the value in status and does not send it again.
    await stop();
    start();
    await o.patch('tested', { spec: { description: 'changed after the test' } });
    await until('tested', ({ status, generation }) => status.observedGeneration === generation);
    expect(await emulator.control.messages({ robot: token })).toHaveLength(1);
    expect(await emulator.control.messages({ userId })).toHaveLength(1);
  });

  it('puts no secret value in any log line, event or status', async () => {
    await stop();
    start(); // afterAll stops it again
    const statuses = await o.listServiceStatuses();
    const events = await o.eventNotes();
    const text = [logs.join(''), events, statuses].join('\n');
    expect(logs.length).toBeGreaterThan(0);
    expect(events).toContain('InvalidCredentials');
    expect(secretValues.length).toBeGreaterThan(5);
    for (const value of secretValues) expect(text).not.toContain(value);
  });
});
