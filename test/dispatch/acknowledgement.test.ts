import { describe, expect, it } from 'vitest';
import { eventually, kubectl } from '../support/kube.ts';
import { create, get, groupService, secret, tokenFor, useDispatch, waitForPhase } from './harness.ts';

// Acknowledgement through the kubectl annotation, on a real control plane with the DingTalk emulator:
// each test has a repeating alarm on a robot of its own, and a control alarm that keeps repeating on
// another robot, so "no repeat" is judged over the control's repeats rather than a sleep.
const h = useDispatch();

const REPEAT_MS = 3_000;
const repeating = { groupWait: '1s', groupInterval: '1s', repeatInterval: `${REPEAT_MS / 1000}s` };

interface Acknowledgement {
  action: string;
  by?: { userId?: string; name?: string };
  at: string;
  until?: string;
  via: string;
}

const messages = (token: string) => h.emulator.control.messages({ robot: token });

/** Waits until the robot has received `count` messages more than `since`, and returns them all. */
async function messagesAfter(token: string, since: number, count: number) {
  return eventually(
    async () => {
      const all = await messages(token);
      return all.length >= since + count ? all : undefined;
    },
    { timeoutMs: 90_000, intervalMs: 250 },
  );
}

/** A robot, a service on it and a rule sending alarms of `source` to it, repeating every few seconds. */
async function repeatingRule(name: string, rule: Record<string, unknown> = {}): Promise<string> {
  const token = tokenFor(name.replaceAll('-', ''));
  await groupService(h, name, { token, groupName: name });
  await create(h, 'AlarmRule', name, {
    services: [{ name }],
    match: { sources: [name] },
    grouping: repeating,
    ...rule,
  });
  return token;
}

/** A firing alarm of `source`, delivered and repeated once, so its repeats are under way. */
async function repeatingAlarm(name: string, source: string, token: string): Promise<void> {
  await create(h, 'AlarmEvent', name, { severity: 'critical', title: `Disk full (${name})`, source });
  await waitForPhase(h, name, ['Delivered']);
  await messagesAfter(token, 0, 2);
}

async function annotate(name: string, ...annotations: string[]): Promise<void> {
  await kubectl(['annotate', '--overwrite', '-n', h.namespace, 'ae', name, ...annotations]);
}

async function acknowledgementOf(name: string, action: string): Promise<Acknowledgement> {
  return eventually(async () => {
    const ack = (await get(h, 'AlarmEvent', name)).status?.acknowledgement as Acknowledgement | undefined;
    return ack?.action === action ? ack : undefined;
  });
}

/** A control alarm repeating elsewhere: `repeats` more of its messages mark the end of a window. */
async function controlAlarm(name: string): Promise<(repeats: number) => Promise<void>> {
  const token = await repeatingRule(`${name}-control`);
  await repeatingAlarm(`${name}-control`, `${name}-control`, token);
  return async (repeats) => {
    await messagesAfter(token, (await messages(token)).length, repeats);
  };
}

async function eventsAbout(name: string): Promise<{ reason: string; type: string; note: string }[]> {
  const out = await kubectl(['get', 'events.events.k8s.io', '-n', h.namespace, '-o', 'json']);
  const items = (JSON.parse(out) as { items: Record<string, unknown>[] }).items;
  return items
    .filter((e) => (e.regarding as { name?: string } | undefined)?.name === name)
    .map((e) => ({ reason: e.reason as string, type: e.type as string, note: e.note as string }));
}

/** An app robot in the emulator and a DingTalkService for one member, listed with a display name. */
async function memberService(name: string, userId: string, displayName: string): Promise<void> {
  await h.emulator.control.putApp(`${name}-app`, { clientSecret: `${name}-secret` });
  await h.emulator.control.putUser(userId, { name: displayName });
  await secret(h, `${name}-app`, { clientSecret: `${name}-secret` });
  await create(h, 'DingTalkService', name, {
    sendTo: ['Member'],
    member: {
      clientId: `${name}-app`,
      clientSecret: { name: `${name}-app`, key: 'clientSecret' },
      members: [{ userId, name: displayName }],
    },
  });
}

describe('acknowledgement by annotation', () => {
  it('records who acknowledged in status, with an Event and the Ack column, and repeats stop', async () => {
    await memberService('ack-oncall', 'u-oncall', 'Zhang San');
    const token = await repeatingRule('ack', {
      interactive: {},
      services: [{ name: 'ack' }, { name: 'ack-oncall' }],
    });
    const window = await controlAlarm('ack');
    await repeatingAlarm('ack-alarm', 'ack', token);

    await annotate(
      'ack-alarm',
      'dingtalk.alarming.io/ack=acknowledge',
      'dingtalk.alarming.io/ack-by=u-oncall',
    );

    const ack = await acknowledgementOf('ack-alarm', 'Acknowledged');
    // The name comes from the member list of a service the alarm went to.
    expect(ack).toMatchObject({ by: { userId: 'u-oncall', name: 'Zhang San' }, via: 'Annotation' });
    const atAck = (await messages(token)).length;
    await window(3);
    // One repeat may have been under way when the acknowledgement was recorded.
    expect((await messages(token)).length).toBeLessThanOrEqual(atAck + 1);
    expect((await get(h, 'AlarmEvent', 'ack-alarm')).status?.ackAnnotation).toMatchObject({
      value: 'acknowledge by u-oncall',
      result: 'Recorded',
    });
    expect(await eventsAbout('ack-alarm')).toContainEqual(
      expect.objectContaining({ type: 'Normal', reason: 'Acknowledged' }),
    );
    const row = await kubectl(['get', 'ae', 'ack-alarm', '-n', h.namespace, '--no-headers']);
    expect(row).toMatch(/\bAcknowledged\s+Zhang San\b/);
  });

  it('pauses repeats while snoozed and repeats again once the snooze is over', async () => {
    const token = await repeatingRule('snooze', { interactive: { snoozeDurations: ['30m'] } });
    await repeatingAlarm('snooze-alarm', 'snooze', token);

    await annotate('snooze-alarm', 'dingtalk.alarming.io/ack=snooze=12s');

    const ack = await acknowledgementOf('snooze-alarm', 'Snoozed');
    const recordedAt = Date.now();
    const until = Date.parse(ack.until ?? '');
    const atSnooze = (await messages(token)).length;
    const after = await messagesAfter(token, atSnooze, 2);
    // Between a repeat that may have been under way and the end of the snooze, nothing is repeated.
    const inSnooze = after
      .slice(atSnooze)
      .filter((m) => m.receivedAt > recordedAt + REPEAT_MS && m.receivedAt < until - 1_000);
    expect(inSnooze).toEqual([]);
    expect(after.slice(atSnooze).some((m) => m.receivedAt >= until - 1_000)).toBe(true);
  });

  it('resolves the alarm: the resolved message follows sendResolved, and nothing repeats', async () => {
    const sends = await repeatingRule('resolve', { interactive: {} });
    const silent = await repeatingRule('resolve-quiet', {
      interactive: {},
      grouping: { ...repeating, sendResolved: false },
    });
    const window = await controlAlarm('resolve');
    await repeatingAlarm('resolve-alarm', 'resolve', sends);
    await repeatingAlarm('resolve-quiet-alarm', 'resolve-quiet', silent);

    await annotate('resolve-alarm', 'dingtalk.alarming.io/ack=resolve');
    await annotate('resolve-quiet-alarm', 'dingtalk.alarming.io/ack=resolve');

    await acknowledgementOf('resolve-alarm', 'Resolved');
    await acknowledgementOf('resolve-quiet-alarm', 'Resolved');
    const resolved = await eventually(async () => {
      const all = await messages(sends);
      return all.some((m) => m.title?.includes('RESOLVED')) ? all : undefined;
    });
    const atResolved = resolved.length;
    const quietAtResolve = (await messages(silent)).length;
    await window(3);
    expect((await messages(sends)).length).toBe(atResolved);
    expect((await messages(silent)).length).toBeLessThanOrEqual(quietAtResolve + 1);
    expect((await messages(silent)).some((m) => m.title?.includes('RESOLVED'))).toBe(false);
    const event = await get(h, 'AlarmEvent', 'resolve-alarm');
    expect(event.status?.conditions).toContainEqual(
      expect.objectContaining({ type: 'Resolved', status: 'True' }),
    );
  });

  it('refuses an invalid value or an action no rule offers, naming the annotation', async () => {
    const token = await repeatingRule('refuse');
    await repeatingAlarm('refuse-alarm', 'refuse', token);

    await annotate('refuse-alarm', 'dingtalk.alarming.io/ack=later');
    const invalid = await eventually(async () => {
      const outcome = (await get(h, 'AlarmEvent', 'refuse-alarm')).status?.ackAnnotation as
        | { value: string; result: string; reason?: string; message?: string }
        | undefined;
      return outcome?.value === 'later' ? outcome : undefined;
    });
    expect(invalid).toMatchObject({ result: 'Refused', reason: 'InvalidAnnotation' });
    expect(invalid.message).toContain('dingtalk.alarming.io/ack');

    await annotate('refuse-alarm', 'dingtalk.alarming.io/ack=acknowledge');
    const notOffered = await eventually(async () => {
      const outcome = (await get(h, 'AlarmEvent', 'refuse-alarm')).status?.ackAnnotation as
        | { value: string; reason?: string }
        | undefined;
      return outcome?.value === 'acknowledge' ? outcome : undefined;
    });
    expect(notOffered).toMatchObject({ result: 'Refused', reason: 'ActionNotOffered' });
    expect((await get(h, 'AlarmEvent', 'refuse-alarm')).status?.acknowledgement).toBeUndefined();
    await eventually(async () => {
      const warnings = (await eventsAbout('refuse-alarm')).filter((e) => e.type === 'Warning');
      return warnings.some((e) => e.reason === 'InvalidAnnotation') &&
        warnings.some((e) => e.reason === 'ActionNotOffered')
        ? true
        : undefined;
    });
  });
});
