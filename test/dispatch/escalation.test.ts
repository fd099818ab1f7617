import { describe, expect, it } from 'vitest';
import { eventually, kubectl } from '../support/kube.ts';
import { create, get, groupService, secret, tokenFor, useDispatch, waitForPhase } from './harness.ts';

// Escalation ladders on a real control plane with the DingTalk emulator: each step's targets (members,
// a group) are their own, so the emulator's messages show which steps were taken and how often.
const h = useDispatch();

const once = { groupWait: '1s', groupInterval: '1s', repeatInterval: '4h' };

interface Step {
  after: string;
  state: string;
  reason?: string;
  msgUuid?: string;
}

const messages = (token: string) => h.emulator.control.messages({ robot: token });

async function robot(name: string): Promise<string> {
  const token = tokenFor(name.replaceAll('-', ''));
  await groupService(h, name, { token, groupName: name });
  return token;
}

const memberMessages = async (userId: string) =>
  (await h.emulator.control.messages()).filter((m) => m.to.kind === 'member' && m.to.userId === userId);

/** An app robot in the emulator and a DingTalkService sending to `userIds` one to one. */
async function memberService(name: string, userIds: string[]): Promise<void> {
  await h.emulator.control.putApp(`${name}-app`, { clientSecret: `${name}-secret` });
  for (const userId of userIds) await h.emulator.control.putUser(userId, { name: userId });
  await secret(h, `${name}-app`, { clientSecret: `${name}-secret` });
  await create(h, 'DingTalkService', name, {
    sendTo: ['Member'],
    member: {
      clientId: `${name}-app`,
      clientSecret: { name: `${name}-app`, key: 'clientSecret' },
      members: userIds.map((userId) => ({ userId })),
    },
  });
}

async function stepsOf(name: string): Promise<Step[]> {
  return ((await get(h, 'AlarmEvent', name)).status?.escalations ?? []) as Step[];
}

async function received(token: string, count: number) {
  return eventually(
    async () => {
      const all = await messages(token);
      return all.length >= count ? all : undefined;
    },
    { timeoutMs: 90_000, intervalMs: 250 },
  );
}

describe('escalation', () => {
  it('takes each step once, timed from the first notification, across an operator restart', async () => {
    await memberService('ladder-oncall', ['u-ladder-1', 'u-ladder-2']);
    const second = await robot('ladder-second');
    const primary = await robot('ladder-primary');
    await create(h, 'AlarmRule', 'ladder', {
      services: [{ name: 'ladder-primary' }],
      match: { sources: ['ladder'] },
      grouping: once,
      escalation: [
        { after: '3s', to: { name: 'ladder-oncall' } },
        { after: '15s', to: { name: 'ladder-second' } },
      ],
    });
    await create(h, 'AlarmEvent', 'ladder-alarm', {
      severity: 'critical',
      title: 'Disk full',
      source: 'ladder',
    });
    await waitForPhase(h, 'ladder-alarm', ['Delivered']);
    await eventually(async () => ((await memberMessages('u-ladder-2')).length > 0 ? true : undefined));
    await eventually(async () =>
      (await stepsOf('ladder-alarm'))[0]?.state === 'Delivered' ? true : undefined,
    );

    // A new replica takes over between the steps: it neither repeats the first nor skips the second.
    await h.stopOperator();
    h.startOperator();

    await received(second, 1);
    const steps = await eventually(async () => {
      const all = await stepsOf('ladder-alarm');
      return all.length === 2 && all.every((s) => s.state === 'Delivered') ? all : undefined;
    });
    expect(steps.map((s) => s.after).sort()).toEqual(['15s', '3s']);
    for (const userId of ['u-ladder-1', 'u-ladder-2']) {
      const got = await memberMessages(userId);
      expect(got).toHaveLength(1);
      expect(got[0]?.text).toContain('Disk full');
    }
    expect(await messages(second)).toHaveLength(1);
    expect(await messages(primary)).toHaveLength(1);
  });

  it('sends a step a stopped operator left Delivering again, once, under its msgUuid', async () => {
    const next = await robot('resume-next');
    await robot('resume-primary');
    // The step's first send never gets an answer: the operator stops with the step on record, unfinished.
    await h.emulator.control.setFault({ robot: next }, { kind: 'hang', times: 1 });
    await create(h, 'AlarmRule', 'resume', {
      services: [{ name: 'resume-primary' }],
      match: { sources: ['resume'] },
      grouping: once,
      escalation: [{ after: '2s', to: { name: 'resume-next' } }],
    });
    await create(h, 'AlarmEvent', 'resume-alarm', {
      severity: 'critical',
      title: 'Resumed',
      source: 'resume',
    });
    const [underway] = await eventually(async () => {
      const all = await stepsOf('resume-alarm');
      return all[0]?.state === 'Delivering' ? all : undefined;
    });

    await h.stopOperator();
    h.startOperator();

    const [done] = await eventually(async () => {
      const all = await stepsOf('resume-alarm');
      return all[0]?.state === 'Delivered' ? all : undefined;
    });
    expect(done?.msgUuid).toBe(underway?.msgUuid);
    expect(await messages(next)).toHaveLength(1);
    expect((await messages(next))[0]?.msgUuid).toBe(underway?.msgUuid);
  });

  it("reminds the step's members with a DING from the app robot at a Ding step", async () => {
    await memberService('ding-oncall', ['u-ding-1', 'u-ding-2']);
    await robot('ding-primary');
    await create(h, 'AlarmRule', 'ding', {
      services: [{ name: 'ding-primary' }],
      match: { sources: ['ding'] },
      grouping: once,
      escalation: [{ after: '2s', via: 'Ding', to: { name: 'ding-oncall' } }],
    });
    await create(h, 'AlarmEvent', 'ding-alarm', {
      severity: 'critical',
      title: 'Nobody looks',
      source: 'ding',
    });
    const [step] = await eventually(async () => {
      const all = await stepsOf('ding-alarm');
      return all[0]?.state === 'Delivered' ? all : undefined;
    });
    expect(step).toMatchObject({ after: '2s', state: 'Delivered' });
    const dings = (await h.emulator.control.dings()).filter((d) => d.content.includes('Nobody looks'));
    expect(dings).toHaveLength(1);
    expect(dings[0]).toMatchObject({ clientId: 'ding-oncall-app', remindType: 1 });
    expect([...(dings[0]?.receiverUserIds ?? [])].sort()).toEqual(['u-ding-1', 'u-ding-2']);
    // A reminder, not the message as well.
    expect(await memberMessages('u-ding-1')).toEqual([]);
    // One API call of the app, counted against its month.
    await eventually(async () => {
      const status = (await get(h, 'DingTalkService', 'ding-oncall')).status as {
        usage?: { app?: { calls: number } };
      };
      return status?.usage?.app?.calls === 1 ? true : undefined;
    });
  });

  it('stops the ladder once the alarm is acknowledged', async () => {
    const next = await robot('stopped-next');
    const control = await robot('stopped-control');
    await robot('stopped-primary');
    await create(h, 'AlarmRule', 'stopped', {
      services: [{ name: 'stopped-primary' }],
      match: { sources: ['stopped'] },
      grouping: once,
      interactive: { actions: ['Acknowledge'] },
      escalation: [{ after: '8s', to: { name: 'stopped-next' } }],
    });
    // The same ladder for an alarm nobody acknowledges: its step marks the end of the window.
    await create(h, 'AlarmRule', 'unstopped', {
      services: [{ name: 'stopped-primary' }],
      match: { sources: ['unstopped'] },
      grouping: once,
      escalation: [{ after: '8s', to: { name: 'stopped-control' } }],
    });
    await create(h, 'AlarmEvent', 'stopped-alarm', {
      severity: 'critical',
      title: 'Acked',
      source: 'stopped',
    });
    await waitForPhase(h, 'stopped-alarm', ['Delivered']);
    await kubectl([
      'annotate',
      '-n',
      h.namespace,
      'ae',
      'stopped-alarm',
      'dingtalk.alarming.io/ack=acknowledge',
    ]);
    await eventually(async () => {
      const ack = (await get(h, 'AlarmEvent', 'stopped-alarm')).status?.acknowledgement as
        | { action: string }
        | undefined;
      return ack?.action === 'Acknowledged' ? true : undefined;
    });
    await create(h, 'AlarmEvent', 'unstopped-alarm', {
      severity: 'critical',
      title: 'Not acked',
      source: 'unstopped',
    });
    await received(control, 1);

    expect(await messages(next)).toEqual([]);
    expect(await stepsOf('stopped-alarm')).toEqual([]);
  });

  it('records a step due inside a mute window Suppressed instead of sending it', async () => {
    const muted = await robot('muted-next');
    await robot('muted-primary');
    // Everything is sent (no window), the ladder's rule is muted all day: the step is recorded, not sent.
    await create(h, 'AlarmRule', 'muted-ladder', {
      services: [{ name: 'muted-primary' }],
      match: { sources: ['muted'] },
      grouping: once,
      escalation: [{ after: '10s', to: { name: 'muted-next' } }],
    });
    await create(h, 'AlarmEvent', 'muted-alarm', { severity: 'critical', title: 'Muted', source: 'muted' });
    await waitForPhase(h, 'muted-alarm', ['Delivered']);
    await kubectl([
      'patch',
      '-n',
      h.namespace,
      'ar',
      'muted-ladder',
      '--type',
      'merge',
      '-p',
      JSON.stringify({ spec: { timeWindows: { mute: [{ start: '00:00', end: '24:00' }] } } }),
    ]);
    const steps = await eventually(async () => {
      const all = await stepsOf('muted-alarm');
      return all.length > 0 ? all : undefined;
    });
    expect(steps).toEqual([expect.objectContaining({ after: '10s', state: 'Suppressed', reason: 'Muted' })]);
    expect(await messages(muted)).toEqual([]);
  });
});
