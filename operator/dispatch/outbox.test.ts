import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { alarm } from '../../test/support/alarms.ts';
import { unusedTemplates } from '../../test/support/no-templates.ts';
import { RateBudget } from '../delivery/rate-budget.ts';
import { DingTalkError, DingTalkErrorCode, type ErrorClass } from '../dingtalk/index.ts';
import { compileTemplates } from '../rules/templates.ts';
import type { Notification } from './notification.ts';
import { Outbox, type OutboxOptions } from './outbox.ts';
import type { OutboundMessage, Outcome, OutcomeSink, SendResult } from './outcome.ts';

function notification(title: string, namespace = 'team-a'): Notification {
  return {
    rule: { namespace, name: 'rule' },
    templates: compileTemplates({ message: { type: 'markdown' } as never }),
    target: { service: 'svc', kind: 'Group', name: 'ops', names: ['ops'] },
    groupLabels: {},
    alarms: [alarm(title, {}, namespace)],
    repeat: false,
  };
}

function refusal(errorClass: ErrorClass, errcode: number): DingTalkError {
  return new DingTalkError(`refused ${errcode}`, {
    code: DingTalkErrorCode.rejected,
    errorClass,
    errcode,
    endpoint: 'robot.send',
  });
}

interface Recorded {
  sent: { at: number; msgUuid: string; titles: string[]; senders: string[] }[];
  /** Every outcome the sink took, in order. */
  outcomes: Outcome[];
  /** msgUuids whose ledger write finished, in that order. */
  recordedUuids: string[];
}

type OutcomeOf<K extends Outcome['kind']> = Extract<Outcome, { kind: K }>;

function outcomesOf<K extends Outcome['kind']>(recorded: Recorded, kind: K): OutcomeOf<K>[] {
  return recorded.outcomes.filter((o): o is OutcomeOf<K> => o.kind === kind);
}

/** The msgUuids of the outcomes of one kind, in order. */
function uuidsOf(recorded: Recorded, kind: Exclude<Outcome['kind'], 'paused'>): string[] {
  return outcomesOf(recorded, kind).map((o) => o.message.msgUuid);
}

/** An outbox on a fake clock whose sends answer from `answers` in turn (then succeed). */
function outboxWith(
  answers: (Error | SendResult | undefined)[] = [],
  {
    limit = 20,
    windowMs = 60_000,
    blockMs = 600_000,
    ledgerWriteMs = 0,
    failover,
    senderOf = (n) => n.rule.namespace,
  }: Partial<{ limit: number; windowMs: number; blockMs: number; ledgerWriteMs: number }> &
    Partial<Pick<OutboxOptions, 'failover' | 'senderOf'>> = {},
) {
  const recorded: Recorded = { sent: [], outcomes: [], recordedUuids: [] };
  /** A ledger whose msgUuid writes take `ledgerWriteMs`. */
  const sink: OutcomeSink = {
    record: async (outcome) => {
      recorded.outcomes.push(outcome);
      if (outcome.kind !== 'assigned') return;
      if (ledgerWriteMs > 0) await new Promise((resolve) => setTimeout(resolve, ledgerWriteMs));
      recorded.recordedUuids.push(outcome.message.msgUuid);
    },
  };
  const outbox = new Outbox({
    name: 'test',
    budget: new RateBudget({ limit, windowMs, marginMs: 0 }),
    blockMs,
    logger: pino({ level: 'silent' }),
    outcomes: sink,
    templates: unusedTemplates,
    senderOf,
    failover,
    send: async (message: OutboundMessage): Promise<SendResult> => {
      recorded.sent.push({
        at: Date.now(),
        msgUuid: message.msgUuid,
        titles: message.notifications.flatMap((n) => n.alarms.map((a) => a.name)),
        senders: [...new Set(message.notifications.map((n) => n.rule.namespace))],
      });
      const answer = answers.shift();
      if (answer instanceof Error) throw answer;
      return answer ?? {};
    },
  });
  outbox.start();
  return { outbox, recorded };
}

describe('Outbox (fake clock)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sends each notification alone while the queue fits the budget', async () => {
    const { outbox, recorded } = outboxWith([], { limit: 5 });
    for (const title of ['a', 'b', 'c']) outbox.enqueue(notification(title));
    await vi.advanceTimersByTimeAsync(10);
    expect(recorded.sent.map((s) => s.titles)).toEqual([['a'], ['b'], ['c']]);
    await outbox.stop();
  });

  it('writes the msgUuids of the next messages while one is sent, so each send waits for one ledger write, not all before it', async () => {
    const { outbox, recorded } = outboxWith([], { ledgerWriteMs: 100 });
    for (const title of ['a', 'b', 'c', 'd', 'e']) outbox.enqueue(notification(title));
    await vi.advanceTimersByTimeAsync(150);
    expect(recorded.sent.map((s) => s.titles)).toEqual([['a'], ['b'], ['c'], ['d'], ['e']]);
    for (const sent of recorded.sent) expect(recorded.recordedUuids).toContain(sent.msgUuid);
    await outbox.stop();
  });

  it('builds no more messages ahead than the budget can send now', async () => {
    const { outbox, recorded } = outboxWith([], { limit: 2, ledgerWriteMs: 100 });
    for (let i = 0; i < 6; i++) outbox.enqueue(notification(`alarm-${i}`));
    await vi.advanceTimersByTimeAsync(150);
    expect(recorded.sent).toHaveLength(1);
    expect(recorded.sent[0]?.titles).toHaveLength(6);
    await outbox.stop();
  });

  it('merges what is queued into one digest once the queue is longer than the sends left, and never exceeds the budget', async () => {
    const { outbox, recorded } = outboxWith([], { limit: 2, windowMs: 60_000 });
    for (let i = 0; i < 10; i++) outbox.enqueue(notification(`alarm-${i}`));
    await vi.advanceTimersByTimeAsync(10);
    expect(recorded.sent).toHaveLength(1);
    expect(recorded.sent[0]?.titles).toHaveLength(10);
    for (let i = 10; i < 15; i++) outbox.enqueue(notification(`alarm-${i}`));
    await vi.advanceTimersByTimeAsync(10);
    outbox.enqueue(notification('late'));
    await vi.advanceTimersByTimeAsync(30_000);
    // Two sends in the first window; the third waits for the window to move on.
    expect(recorded.sent).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(31_000);
    expect(recorded.sent).toHaveLength(3);
    expect(recorded.sent[2]?.at).toBeGreaterThanOrEqual(60_000);
    await outbox.stop();
  });

  it('never puts notifications of two senders into one message', async () => {
    const { outbox, recorded } = outboxWith([], { limit: 1 });
    for (let i = 0; i < 4; i++) {
      outbox.enqueue(notification(`a-${i}`, 'team-a'));
      outbox.enqueue(notification(`b-${i}`, 'team-b'));
    }
    await vi.advanceTimersByTimeAsync(130_000);
    expect(recorded.sent.length).toBeGreaterThanOrEqual(2);
    for (const sent of recorded.sent) expect(sent.senders).toHaveLength(1);
    expect(recorded.sent.flatMap((s) => s.titles).sort()).toHaveLength(8);
    await outbox.stop();
  });

  it("works out each queued notification's sender once, however many digests it waits through", async () => {
    let calls = 0;
    const senderOf = (n: Notification) => {
      calls++;
      return n.rule.namespace;
    };
    const { outbox, recorded } = outboxWith([], { limit: 1, senderOf });
    for (let i = 0; i < 3; i++) {
      outbox.enqueue(notification(`a-${i}`, 'team-a'));
      outbox.enqueue(notification(`b-${i}`, 'team-b'));
    }
    await vi.advanceTimersByTimeAsync(130_000);
    expect(recorded.sent.flatMap((s) => s.titles)).toHaveLength(6);
    expect(calls).toBe(6);
    await outbox.stop();
  });

  it('retries a transient failure with backoff under the same msgUuid', async () => {
    const { outbox, recorded } = outboxWith([refusal('transient', -1), refusal('transient', -1)]);
    outbox.enqueue(notification('flaky'));
    await vi.advanceTimersByTimeAsync(10);
    expect(recorded.sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(recorded.sent).toHaveLength(3);
    expect(new Set(recorded.sent.map((s) => s.msgUuid)).size).toBe(1);
    expect(recorded.sent[1]?.at).toBeGreaterThanOrEqual(800);
    const failed = outcomesOf(recorded, 'failed');
    expect(failed).toHaveLength(2);
    for (const o of failed) expect(o.retryAt).toBeGreaterThan(o.at);
    expect(uuidsOf(recorded, 'delivered')).toEqual([recorded.sent[0]?.msgUuid]);
    await outbox.stop();
  });

  it('pauses the robot for the block period after a throttle answer, then sends the same message', async () => {
    const { outbox, recorded } = outboxWith([refusal('throttled', 410100)], { blockMs: 600_000 });
    outbox.enqueue(notification('throttled'));
    await vi.advanceTimersByTimeAsync(10);
    const [failed] = outcomesOf(recorded, 'failed');
    expect(failed?.failure.reason).toBe('Throttled');
    expect(failed?.retryAt).toBeGreaterThanOrEqual(600_000);
    expect(outcomesOf(recorded, 'paused')).toEqual([
      { kind: 'paused', queue: 'test', until: failed?.retryAt },
    ]);
    await vi.advanceTimersByTimeAsync(599_000);
    expect(recorded.sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(recorded.sent).toHaveLength(2);
    expect(recorded.sent[1]?.msgUuid).toBe(recorded.sent[0]?.msgUuid);
    await outbox.stop();
  });

  it('lets another robot of the pool take a refused message under its msgUuid, holding nothing', async () => {
    const moved: OutboundMessage[] = [];
    const { outbox, recorded } = outboxWith([refusal('permanent', 400102)], {
      failover: (message) => moved.push(message) > 0,
    });
    outbox.enqueue(notification('refused'));
    outbox.enqueue(notification('next'));
    await vi.advanceTimersByTimeAsync(10);
    expect(moved.map((m) => m.msgUuid)).toEqual([recorded.sent[0]?.msgUuid]);
    expect(uuidsOf(recorded, 'held')).toEqual([]);
    // On record as going again at once, elsewhere; not failed.
    expect(outcomesOf(recorded, 'failed').map((o) => [o.message.msgUuid, o.retryAt])).toEqual([
      [recorded.sent[0]?.msgUuid, 0],
    ]);
    expect(recorded.sent.map((s) => s.titles)).toEqual([['refused'], ['next']]);
    await outbox.stop();
  });

  it('blocks the robot on a throttle answer it failed over, and hands out what it holds, numbered or not', async () => {
    const moved: OutboundMessage[] = [];
    const { outbox, recorded } = outboxWith([refusal('throttled', 410100)], {
      failover: (message) => moved.push(message) > 0,
      ledgerWriteMs: 5,
    });
    for (const title of ['first', 'second', 'third']) outbox.enqueue(notification(title));
    await vi.advanceTimersByTimeAsync(6);
    expect(moved).toHaveLength(1);
    expect(outbox.blocked(Date.now())).toBe(true);
    const taken = outbox.take(() => true);
    const titles = [...taken.messages.flatMap((m) => m.notifications), ...taken.queued].map(
      (n) => n.alarms[0]?.name,
    );
    expect(titles).toEqual(['second', 'third']);
    // Messages already numbered keep their msgUuid, on record before they were handed out.
    for (const m of taken.messages) expect(recorded.recordedUuids).toContain(m.msgUuid);
    expect(outbox.depth).toBe(0);
    await vi.advanceTimersByTimeAsync(600_000);
    expect(recorded.sent).toHaveLength(1);
    await outbox.stop();
  });

  it('hands a configuration refusal over as held, without retrying it, and goes on with the next', async () => {
    const { outbox, recorded } = outboxWith([refusal('permanent', 310000)]);
    outbox.enqueue(notification('refused'));
    outbox.enqueue(notification('next'));
    await vi.advanceTimersByTimeAsync(60_000);
    expect(uuidsOf(recorded, 'held')).toEqual([recorded.sent[0]?.msgUuid]);
    expect(outcomesOf(recorded, 'held')[0]?.failure.errcode).toBe('310000');
    expect(uuidsOf(recorded, 'failed')).toEqual([]);
    expect(uuidsOf(recorded, 'delivered')).toEqual([recorded.sent[1]?.msgUuid]);
    expect(recorded.sent.map((s) => s.titles)).toEqual([['refused'], ['next']]);
    await outbox.stop();
  });

  it("hands a spent month's answer over as held for the quota, without pausing the robot or retrying", async () => {
    const { outbox, recorded } = outboxWith([refusal('throttled', 90030)]);
    outbox.enqueue(notification('spent'));
    outbox.enqueue(notification('next'));
    await vi.advanceTimersByTimeAsync(5_000);
    expect(outcomesOf(recorded, 'held')[0]?.failure).toMatchObject({
      errcode: '90030',
      reason: 'QuotaExhausted',
    });
    expect(outcomesOf(recorded, 'paused')).toEqual([]);
    expect(uuidsOf(recorded, 'failed')).toEqual([]);
    expect(recorded.sent.map((s) => s.titles)).toEqual([['spent'], ['next']]);
    await outbox.stop();
  });

  it('reports a message assigned before it is attempted, and attempted before it is delivered', async () => {
    const { outbox, recorded } = outboxWith();
    outbox.enqueue(notification('one'));
    await vi.advanceTimersByTimeAsync(10);
    const [msgUuid] = uuidsOf(recorded, 'assigned');
    expect(recorded.outcomes.map((o) => o.kind)).toEqual(['assigned', 'attempted', 'delivered']);
    expect(uuidsOf(recorded, 'delivered')).toEqual([msgUuid]);
    await outbox.stop();
  });

  it('sends nothing until the msgUuid is on record', async () => {
    const { outbox, recorded } = outboxWith([], { ledgerWriteMs: 1_000 });
    outbox.enqueue(notification('one'));
    await vi.advanceTimersByTimeAsync(990);
    expect(recorded.sent).toEqual([]);
    await vi.advanceTimersByTimeAsync(20);
    expect(recorded.sent).toHaveLength(1);
    expect(recorded.recordedUuids).toEqual([recorded.sent[0]?.msgUuid]);
    await outbox.stop();
  });

  it('gives up on a permanent refusal with a failed outcome that has no retry time', async () => {
    const { outbox, recorded } = outboxWith([refusal('permanent', 460101)]);
    outbox.enqueue(notification('refused'));
    await vi.advanceTimersByTimeAsync(60_000);
    expect(recorded.sent).toHaveLength(1);
    expect(outcomesOf(recorded, 'failed')).toEqual([
      expect.objectContaining({
        retryAt: undefined,
        failure: expect.objectContaining({ errcode: '460101' }),
      }),
    ]);
    await outbox.stop();
  });

  it('re-sends a restored message under its recorded msgUuid', async () => {
    const { outbox, recorded } = outboxWith();
    outbox.restore('recorded-uuid', [notification('restored')]);
    await vi.advanceTimersByTimeAsync(10);
    expect(recorded.sent).toEqual([
      expect.objectContaining({ msgUuid: 'recorded-uuid', titles: ['restored'] }),
    ]);
    await outbox.stop();
  });

  it('gives each call of a message in several calls its own budget slot, with its progress on record first', async () => {
    const { outbox, recorded } = outboxWith([{ more: { notBefore: 0 } }, { more: { notBefore: 0 } }, {}], {
      limit: 2,
    });
    outbox.enqueue(notification('members'));
    await vi.advanceTimersByTimeAsync(10);
    expect(recorded.sent).toHaveLength(2);
    expect(uuidsOf(recorded, 'progressed')).toHaveLength(2);
    expect(uuidsOf(recorded, 'delivered')).toEqual([]);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(recorded.sent).toHaveLength(3);
    expect(new Set(recorded.sent.map((s) => s.msgUuid)).size).toBe(1);
    expect(uuidsOf(recorded, 'delivered')).toHaveLength(1);
    await outbox.stop();
  });

  it('waits for a later call without blocking the clock: stop() returns at once', async () => {
    const { outbox, recorded } = outboxWith([{ more: { notBefore: 30_000 } }]);
    outbox.enqueue(notification('members'));
    await vi.advanceTimersByTimeAsync(10);
    await outbox.stop();
    expect(recorded.sent).toHaveLength(1);
  });
});
