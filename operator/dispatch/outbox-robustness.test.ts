import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { alarm } from '../../test/support/alarms.ts';
import { unusedTemplates } from '../../test/support/no-templates.ts';
import { RateBudget } from '../delivery/rate-budget.ts';
import { compileTemplates } from '../rules/templates.ts';
import type { Notification } from './notification.ts';
import { Outbox } from './outbox.ts';
import type { Outcome, OutcomeSink } from './outcome.ts';

function notification(title: string): Notification {
  return {
    rule: { namespace: 'team-a', name: 'rule' },
    templates: compileTemplates({ message: { type: 'markdown' } as never }),
    target: { service: 'svc', kind: 'Group', name: 'ops', names: ['ops'] },
    groupLabels: {},
    alarms: [alarm(title, {}, 'team-a')],
    repeat: false,
  };
}

/** An outbox whose ledger throws for the first `throws` outcomes of the given kinds. */
function outboxWithFailingLedger(kinds: Outcome['kind'][], throws: number) {
  const sent: string[][] = [];
  const delivered: string[] = [];
  let left = throws;
  const sink: OutcomeSink = {
    record: async (outcome) => {
      if (kinds.includes(outcome.kind) && left > 0) {
        left--;
        throw new Error(`ledger broke on ${outcome.kind}`);
      }
      if (outcome.kind === 'delivered') delivered.push(outcome.message.msgUuid);
    },
  };
  const outbox = new Outbox({
    name: 'test',
    budget: new RateBudget({ limit: 20, windowMs: 60_000, marginMs: 0 }),
    blockMs: 600_000,
    logger: pino({ level: 'silent' }),
    outcomes: sink,
    templates: unusedTemplates,
    senderOf: (n) => n.rule.namespace,
    send: async (message) => {
      sent.push(message.notifications.flatMap((n) => n.alarms.map((a) => a.name)));
      return {};
    },
  });
  outbox.start();
  return { outbox, sent, delivered };
}

describe('Outbox when a stage throws unexpectedly', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('keeps the queue alive: the message is attempted again after a backoff, and the next one follows', async () => {
    const { outbox, sent, delivered } = outboxWithFailingLedger(['attempted'], 1);
    outbox.enqueue(notification('first'));
    outbox.enqueue(notification('second'));
    await vi.advanceTimersByTimeAsync(10);
    expect(sent).toEqual([]);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(sent).toEqual([['first'], ['second']]);
    expect(delivered).toHaveLength(2);
    await outbox.stop();
  });

  it('backs off longer while the failures go on, and loses no message', async () => {
    const { outbox, sent } = outboxWithFailingLedger(['attempted'], 3);
    outbox.enqueue(notification('only'));
    // Three failures in a row: about 1 s, 2 s and 4 s of backoff (±20 %).
    await vi.advanceTimersByTimeAsync(4_000);
    expect(sent).toEqual([]);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(sent).toEqual([['only']]);
    await outbox.stop();
  });

  it('sends a message whose msgUuid write rejected rather than dropping it', async () => {
    const { outbox, sent } = outboxWithFailingLedger(['assigned'], 1);
    outbox.enqueue(notification('kept'));
    await vi.advanceTimersByTimeAsync(2_000);
    expect(sent).toEqual([['kept']]);
    await outbox.stop();
  });
});
