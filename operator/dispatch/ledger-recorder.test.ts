import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { alarm } from '../../test/support/alarms.ts';
import type { AlarmEventStatus, Delivery } from '../api/index.ts';
import { HeldTargets } from '../delivery/held.ts';
import type { OperatorContext } from '../manager/context.ts';
import { compileTemplates } from '../rules/templates.ts';
import type { StatusWriter } from '../runtime/status.ts';
import type { Alarm } from './alarm.ts';
import { EventStatusStore } from './event-status.ts';
import { HeldAlarms } from './held-alarms.ts';
import { type Health, LedgerRecorder } from './ledger-recorder.ts';
import { applyAnswer, fail, progressFrom } from './member-progress.ts';
import type { Notification, TargetRef } from './notification.ts';
import type { OutboundMessage } from './outcome.ts';

const GROUP: TargetRef = { service: 'svc', kind: 'Group', name: 'ops', names: ['ops'] };
const MEMBERS: TargetRef = {
  service: 'svc',
  kind: 'Member',
  name: 'members',
  names: ['members'],
  recipients: 'r',
};

function notification(alarms: Alarm[], target = GROUP, repeat = false): Notification {
  return {
    rule: { namespace: 'team-a', name: 'rule' },
    templates: compileTemplates({ message: { type: 'markdown' } as never }),
    target,
    groupLabels: {},
    alarms,
    repeat,
  };
}

function message(notifications: Notification[], progress?: unknown): OutboundMessage {
  return { msgUuid: 'uuid-1', notifications, content: {} as never, attempts: 1, progress };
}

/**
 * A recorder over a store whose writes land only once `land()` is called (until then the entries can be
 * read back, as the store drops a finished event once written), and a health that keeps its calls.
 */
function recorderWith(alarms: Alarm[], target = GROUP) {
  const written: AlarmEventStatus[] = [];
  let land: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => {
    land = resolve;
  });
  const writer = {
    async patch(_metadata: unknown, patch: unknown) {
      await gate;
      written.push(structuredClone(patch) as AlarmEventStatus);
      return 'patched' as const;
    },
  } as unknown as StatusWriter;
  const store = new EventStatusStore({ writer, logger: pino({ level: 'silent' }) });
  for (const a of alarms) {
    store.track(
      a.key,
      { name: a.name, namespace: a.namespace, uid: a.uid, generation: 1 },
      {
        deliveries: [
          {
            ruleNamespace: 'team-a',
            rule: 'rule',
            service: target.service,
            targetKind: target.kind,
            targetName: target.name,
            state: 'Pending',
          },
        ],
      },
    );
  }
  const calls: { call: keyof Health; args: unknown[] }[] = [];
  const health = Object.fromEntries(
    (['sent', 'throttled', 'failed', 'held', 'rule'] as const).map((call) => [
      call,
      (...args: unknown[]) => calls.push({ call, args }),
    ]),
  ) as unknown as Health;
  const registry = new HeldTargets();
  const caches = {
    services: { get: () => undefined },
    secrets: { get: () => undefined },
    configMaps: { get: () => undefined },
  } as unknown as OperatorContext['caches'];
  const held = new HeldAlarms(registry, caches);
  const finished: string[] = [];
  const recorder = new LedgerRecorder({
    store,
    health,
    held,
    logger: pino({ level: 'silent' }),
    onFinished: (key) => finished.push(key),
    retrack: (alarm) => store.get(alarm.key, alarm.uid) !== undefined,
  });
  const entry = (a: Alarm): Delivery | undefined => store.get(a.key)?.deliveries?.[0];
  return {
    recorder,
    store,
    written,
    calls,
    held,
    registry,
    finished,
    entry,
    land,
  };
}

describe('LedgerRecorder', () => {
  it('records an assigned message Delivering under its msgUuid, and resolves only once that is written', async () => {
    const a = alarm('disk-full', {}, 'team-a');
    const { recorder, entry, written, land } = recorderWith([a]);
    let resolved = false;
    const assigned = recorder.record({ kind: 'assigned', message: message([notification([a])]) }).then(() => {
      resolved = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(resolved).toBe(false);
    land();
    await assigned;
    expect(entry(a)).toMatchObject({
      state: 'Delivering',
      msgUuid: 'uuid-1',
      lastAttemptAt: expect.any(String),
    });
    expect(written.at(-1)?.deliveries?.[0]?.msgUuid).toBe('uuid-1');
  });

  it('counts attempts', async () => {
    const a = alarm('disk-full', {}, 'team-a');
    const { recorder, entry } = recorderWith([a]);
    await recorder.record({ kind: 'attempted', message: message([notification([a])]), at: 1_000 });
    await recorder.record({ kind: 'attempted', message: message([notification([a])]), at: 2_000 });
    expect(entry(a)).toMatchObject({ attempts: 2, lastAttemptAt: '1970-01-01T00:00:02Z' });
  });

  it("writes a send's attempt with its outcome, not on its own, however long DingTalk takes to answer", async () => {
    vi.useFakeTimers();
    try {
      const a = alarm('disk-full', {}, 'team-a');
      const { recorder, written, land } = recorderWith([a]);
      land();
      const sent = message([notification([a])]);
      await recorder.record({ kind: 'assigned', message: sent });
      expect(written).toHaveLength(1);
      await recorder.record({ kind: 'attempted', message: sent, at: 1_000 });
      // DingTalk answers after two seconds: far beyond the store's coalescing of changes.
      await vi.advanceTimersByTimeAsync(2_000);
      expect(written).toHaveLength(1);
      await recorder.record({ kind: 'delivered', message: sent, result: { messageId: 'm-1' }, at: 3_000 });
      await vi.advanceTimersByTimeAsync(1_000);
      expect(written).toHaveLength(2);
      expect(written[1]?.deliveries?.[0]).toMatchObject({
        state: 'Delivered',
        attempts: 1,
        lastAttemptAt: '1970-01-01T00:00:01Z',
      });
    } finally {
      vi.useRealTimers();
    }
  });

  it('records a delivered message Delivered for every alarm it carries, and the service and rule health', async () => {
    const a = alarm('disk-full', {}, 'team-a');
    const b = alarm('cpu-high', {}, 'team-a');
    const { recorder, entry, calls, finished } = recorderWith([a, b]);
    await recorder.record({
      kind: 'failed',
      message: message([notification([a, b])]),
      failure: { error: 'timeout', reason: 'DingTalkError' },
      retryAt: 5_000,
      at: 1_000,
    });
    await recorder.record({
      kind: 'delivered',
      message: message([notification([a, b])]),
      result: { messageId: 'm-1' },
      at: 6_000,
    });
    for (const x of [a, b]) {
      const d = entry(x);
      expect(d).toMatchObject({ state: 'Delivered', deliveredAt: '1970-01-01T00:00:06Z', messageId: 'm-1' });
      expect(d?.lastError).toBeUndefined();
      expect(d?.nextAttemptAt).toBeUndefined();
    }
    expect(finished).toEqual([a.key, b.key]);
    expect(calls.map((c) => c.call)).toEqual(['sent', 'rule']);
    expect(calls[1]?.args).toEqual([
      'team-a',
      'rule',
      { notified: 1 },
      { time: '1970-01-01T00:00:06Z', alarmEvent: 'cpu-high', severity: 'warning' },
    ]);
  });

  it('records a failure with a retry time as the next attempt, leaving the entry open', async () => {
    const a = alarm('disk-full', {}, 'team-a');
    const { recorder, entry, calls, finished } = recorderWith([a]);
    await recorder.record({
      kind: 'failed',
      message: message([notification([a])]),
      failure: { error: 'sending too fast', errcode: '410100', reason: 'Throttled' },
      retryAt: 601_000,
      at: 1_000,
    });
    expect(entry(a)).toMatchObject({
      state: 'Pending',
      reason: 'Throttled',
      errcode: '410100',
      lastError: 'sending too fast',
      nextAttemptAt: '1970-01-01T00:10:01Z',
    });
    expect(finished).toEqual([]);
    expect(calls).toEqual([
      { call: 'throttled', args: ['team-a', 'svc', { kind: 'Group', name: 'ops' }, 1_000, 601_000] },
    ]);
  });

  it('records a failure without a retry time Failed, counted against the service and the rule', async () => {
    const a = alarm('disk-full', {}, 'team-a');
    const { recorder, entry, calls, finished } = recorderWith([a]);
    await recorder.record({
      kind: 'failed',
      message: message([notification([a])]),
      failure: { error: 'x'.repeat(2_000), errcode: '460101', reason: 'DingTalkError' },
      retryAt: undefined,
      at: 1_000,
    });
    expect(entry(a)).toMatchObject({ state: 'Failed', reason: 'DingTalkError', errcode: '460101' });
    expect(entry(a)?.lastError).toHaveLength(1024);
    expect(finished).toEqual([a.key]);
    expect(calls.map((c) => c.call)).toEqual(['failed', 'rule']);
    expect(calls[1]?.args).toEqual(['team-a', 'rule', { failed: 1 }]);
  });

  it('records a held message Held with the errcode, keeps it for the release under its msgUuid and reports the target', async () => {
    const a = alarm('disk-full', {}, 'team-a');
    const { recorder, entry, held, registry, calls, finished } = recorderWith([a]);
    const failure = { error: 'sign not match', errcode: '310000', reason: 'DingTalkError' as const };
    await recorder.record({ kind: 'held', message: message([notification([a])]), failure, at: 1_000 });
    expect(entry(a)).toMatchObject({
      state: 'Held',
      reason: 'Held',
      errcode: '310000',
      lastError: 'sign not match',
      heldSince: '1970-01-01T00:00:01Z',
    });
    expect(finished).toEqual([]);
    const target = held.of('team-a', GROUP);
    expect(target?.since).toBe(1_000);
    expect([...(target?.messages.keys() ?? [])]).toEqual(['uuid-1']);
    expect(registry.of('team-a', 'svc')).toEqual([expect.objectContaining({ errcode: '310000', alarms: 1 })]);
    expect(calls.map((c) => c.call)).toEqual(['held']);

    // Held again later (a restart re-sent it): the age counts from the first time.
    await recorder.record({ kind: 'held', message: message([notification([a])]), failure, at: 9_000 });
    expect(entry(a)?.heldSince).toBe('1970-01-01T00:00:01Z');
  });

  it('records Failed (HeldTooLong) the alarms of a target held past the bound', async () => {
    const a = alarm('disk-full', {}, 'team-a');
    const { recorder, entry, held, calls } = recorderWith([a]);
    const failure = { error: 'sign not match', errcode: '310000', reason: 'DingTalkError' as const };
    await recorder.record({ kind: 'held', message: message([notification([a])]), failure, at: 1_000 });
    const target = held.of('team-a', GROUP);
    if (!target) throw new Error('not held');
    recorder.expired(target, 86_400_000, 86_401_000);
    expect(entry(a)).toMatchObject({
      state: 'Failed',
      reason: 'HeldTooLong',
      lastError: 'held for 24h without a configuration fix: sign not match',
    });
    expect(calls.map((c) => c.call)).toEqual(['held', 'rule', 'failed']);
  });

  it('records a member message’s progress per call, resolving once it is written', async () => {
    const a = alarm('disk-full', {}, 'team-a');
    const { recorder, entry, written, land } = recorderWith([a], MEMBERS);
    const progress = progressFrom(undefined);
    progress.total = 40;
    applyAnswer(
      progress,
      { kind: 'chunk', index: 0, userIds: [] },
      { sent: ['u1'], invalid: [], flowControlled: [] },
    );
    let resolved = false;
    const recorded = recorder
      .record({ kind: 'progressed', message: message([notification([a], MEMBERS)], progress), at: 1_000 })
      .then(() => {
        resolved = true;
      });
    await new Promise((resolve) => setImmediate(resolve));
    expect(resolved).toBe(false);
    land();
    await recorded;
    expect(entry(a)?.members).toEqual({ total: 40, delivered: 1, failed: 0, chunksDone: 1 });
    expect(written.at(-1)?.deliveries?.[0]?.members?.chunksDone).toBe(1);
    expect(entry(a)?.state).toBe('Pending');
  });

  it('records a member message Delivered when anyone got it, naming members that did not', async () => {
    const a = alarm('disk-full', {}, 'team-a');
    const { recorder, entry } = recorderWith([a], MEMBERS);
    const progress = progressFrom(undefined);
    progress.total = 2;
    applyAnswer(
      progress,
      { kind: 'chunk', index: 0, userIds: [] },
      { sent: ['u1'], invalid: ['u2'], flowControlled: [] },
    );
    await recorder.record({
      kind: 'delivered',
      message: message([notification([a], MEMBERS)], progress),
      result: { messageId: 'q-1' },
      at: 2_000,
    });
    expect(entry(a)).toMatchObject({
      state: 'Delivered',
      reason: 'SomeMembersFailed',
      messageId: 'q-1',
      members: { total: 2, delivered: 1, failed: 1, failures: [{ member: 'u2', reason: 'InvalidUserId' }] },
    });
  });

  it('records a member message that reached nobody Failed, with the first member’s reason', async () => {
    const a = alarm('disk-full', {}, 'team-a');
    const { recorder, entry } = recorderWith([a], MEMBERS);
    const progress = progressFrom(undefined);
    progress.total = 1;
    fail(progress, ['13800000000'], 'MembersUnresolved');
    await recorder.record({
      kind: 'delivered',
      message: message([notification([a], MEMBERS)], progress),
      result: {},
      at: 2_000,
    });
    expect(entry(a)).toMatchObject({ state: 'Failed', reason: 'MembersUnresolved' });
    expect(entry(a)?.deliveredAt).toBeUndefined();
  });

  it('changes no ledger entry for a repeat, but counts it in the health', async () => {
    const a = alarm('disk-full', {}, 'team-a');
    const { recorder, entry, calls } = recorderWith([a]);
    await recorder.record({
      kind: 'delivered',
      message: message([notification([a], GROUP, true)]),
      result: {},
      at: 2_000,
    });
    expect(entry(a)?.state).toBe('Pending');
    expect(calls.map((c) => c.call)).toEqual(['sent', 'rule']);
  });
});
