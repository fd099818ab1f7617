import { describe, expect, it } from 'vitest';
import { alarm } from '../../test/support/alarms.ts';
import type { AlarmEventStatus, Delivery } from '../api/index.ts';
import type { CompiledRule } from '../rules/rule-book.ts';
import type { PlannedTarget } from '../targets/index.ts';
import { AggregationGroup } from './aggregation.ts';
import { diffLedger, lastNotifiedAt, notifiedBy, type RuleStanding, wantedDeliveries } from './desired.ts';

const rule = (name: string) => ({ key: `ns/${name}`, namespace: 'ns', name }) as CompiledRule;
const group = (service: string, name: string): PlannedTarget => ({ kind: 'Group', service, name });

const entry = (service: string, targetName: string, change: Partial<Delivery> = {}): Delivery => ({
  ruleNamespace: 'ns',
  rule: 'r',
  service,
  targetKind: 'Group',
  targetName,
  state: 'Pending',
  ...change,
});

/** The wanted deliveries of rule r planning `targets`, set against `deliveries`. */
function diff(deliveries: Delivery[], targets: PlannedTarget[], standing: RuleStanding = 'matches') {
  const wanted = wantedDeliveries([rule('r')], () => targets);
  return diffLedger({ deliveries }, standing === 'matches' ? wanted : [], () => standing);
}

describe('the ledger set against what the configuration wants now', () => {
  it('adds the targets a rule plans that the ledger lacks (a new event, or a rule edited to add one)', () => {
    const result = diff([entry('ops', 'a')], [group('ops', 'a'), group('ops', 'b')]);
    expect(result.added.map((w) => w.id.targetName)).toEqual(['b']);
    expect(result.waiting.map((w) => w.id.targetName)).toEqual(['a']);
    expect(result.unwanted).toEqual([]);
  });

  it('finishes a waiting entry whose target the edited rule or service no longer plans: TargetRemoved', () => {
    const result = diff([entry('old', 'a')], [group('new', 'a')]);
    expect(result.unwanted).toEqual([{ delivery: entry('old', 'a'), reason: 'TargetRemoved' }]);
    expect(result.added.map((w) => w.id.service)).toEqual(['new']);
  });

  it('finishes the entries of a deleted rule (RuleDeleted) and of one that no longer matches (NoLongerMatched)', () => {
    expect(diff([entry('ops', 'a')], [], 'deleted').unwanted[0]?.reason).toBe('RuleDeleted');
    expect(diff([entry('ops', 'a')], [], 'unmatched').unwanted[0]?.reason).toBe('NoLongerMatched');
  });

  it('leaves the entries of a rule made invalid by an edit as they are: the fix decides', () => {
    const result = diff([entry('ops', 'a')], [], 'invalid');
    expect(result).toEqual({ added: [], waiting: [], underway: [], unwanted: [] });
  });

  it('hands entries underway (a msgUuid on record, as after a restart or takeover) back to be sent under it', () => {
    const underway = entry('ops', 'a', { state: 'Delivering', msgUuid: 'm-1' });
    const result = diff([underway], [group('ops', 'a')]);
    expect(result.underway.map((w) => w.delivery.msgUuid)).toEqual(['m-1']);
    expect(result.added).toEqual([]);
  });

  it('never touches a finished entry, wanted or not', () => {
    const done = [entry('ops', 'a', { state: 'Delivered' }), entry('gone', 'x', { state: 'Failed' })];
    expect(diff(done, [group('ops', 'a')])).toEqual({ added: [], waiting: [], underway: [], unwanted: [] });
  });

  it('says whether the rule already sent the alarm somewhere', () => {
    expect(notifiedBy({ deliveries: [entry('ops', 'a')] }, rule('r'))).toBe(false);
    expect(notifiedBy({ deliveries: [entry('ops', 'a', { msgUuid: 'm' })] }, rule('r'))).toBe(true);
    expect(notifiedBy({ deliveries: [entry('ops', 'a', { state: 'Delivered' })] }, rule('r'))).toBe(true);
  });
});

describe('repeats scheduled from the recorded times', () => {
  const timing = { groupWaitMs: 1_000, groupIntervalMs: 1_000, repeatIntervalMs: 60_000, sendResolved: true };
  const at = (ms: number) => `${new Date(ms).toISOString().slice(0, 19)}Z`;
  const t0 = Date.parse('2026-12-06T00:00:00Z');
  const delivered = (repeatedAt?: number): AlarmEventStatus => ({
    deliveries: [
      entry('ops', 'a', {
        state: 'Delivered',
        deliveredAt: at(t0),
        ...(repeatedAt !== undefined && { repeatedAt: at(repeatedAt) }),
      }),
    ],
  });

  /** A new run (restart or takeover) restores the group from the ledger and is asked at `now`. */
  function restoredAt(status: AlarmEventStatus, now: number) {
    const g = new AggregationGroup('g', {}, timing);
    g.restoreNotified(alarm('a'), lastNotifiedAt(status, rule('r')));
    return { due: g.nextFlushAt, flush: g.flush(now) };
  }

  it('is not due right after a restart that came between two repeats', () => {
    const status = delivered(t0 + 60_000);
    const { due, flush } = restoredAt(status, t0 + 65_000);
    expect(flush).toBeUndefined();
    expect(due).toBe(t0 + 120_000);
  });

  it('is due one interval after the last repeat, with the still-firing alarm', () => {
    const status = delivered(t0 + 60_000);
    const { flush } = restoredAt(status, t0 + 120_000);
    expect(flush).toMatchObject({ repeat: true });
    expect(flush?.alarms.map((a) => a.name)).toEqual(['a']);
  });

  it('counts from the first notification while no repeat was made yet', () => {
    expect(restoredAt(delivered(), t0 + 59_000).flush).toBeUndefined();
    expect(restoredAt(delivered(), t0 + 60_000).flush).toMatchObject({ repeat: true });
  });
});
