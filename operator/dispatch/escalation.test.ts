import { describe, expect, it } from 'vitest';
import type { AlarmEventStatus, Delivery, EscalationRecord } from '../api/index.ts';
import { ladderState, underwaySteps, withRecord } from './escalation.ts';

const T0 = Date.parse('2026-03-01T10:00:00Z');
const MIN = 60_000;
const rule = { namespace: 'team-a', name: 'critical' };
const ladder = [
  { after: '15m', to: { name: 'leads' }, via: 'Message' as const },
  { after: '5m', to: { name: 'oncall' }, via: 'Message' as const },
];

const delivered = (at: number, ruleName = 'critical'): Delivery => ({
  ruleNamespace: 'team-a',
  rule: ruleName,
  service: 'ops',
  targetKind: 'Group',
  targetName: 'ops',
  state: 'Delivered',
  deliveredAt: new Date(at).toISOString(),
});

const taken = (after: string, state: EscalationRecord['state'] = 'Delivered'): EscalationRecord => ({
  ruleNamespace: 'team-a',
  rule: 'critical',
  after,
  service: 'oncall',
  state,
  takenAt: '2026-03-01T10:05:00Z',
  msgUuid: `m-${after}`,
});

function state(status: AlarmEventStatus, now: number, firing = true) {
  return ladderState({ ladder, rule, status, state: firing ? 'firing' : 'resolved', now });
}

describe('ladderState', () => {
  it('waits for the first notification, timed from the ledger, then takes the steps in order of after', () => {
    expect(state({}, T0)).toEqual({ kind: 'idle' });
    const status = { deliveries: [delivered(T0 + MIN), delivered(T0, 'other')] };
    expect(state(status, T0 + 2 * MIN)).toEqual({ kind: 'wait', at: T0 + 6 * MIN });
    expect(state(status, T0 + 6 * MIN)).toEqual({ kind: 'due', step: ladder[1] });
    const after = { ...status, escalations: [taken('5m')] };
    expect(state(after, T0 + 6 * MIN)).toEqual({ kind: 'wait', at: T0 + 16 * MIN });
    expect(state({ ...status, escalations: [taken('5m'), taken('15m')] }, T0 + 60 * MIN)).toEqual({
      kind: 'idle',
    });
  });

  it('takes an overdue step once after an outage, and the next one only once that is on the ledger', () => {
    const status = { deliveries: [delivered(T0)] };
    expect(state(status, T0 + 60 * MIN)).toEqual({ kind: 'due', step: ladder[1] });
    const once = { ...status, escalations: withRecord(status, taken('5m', 'Delivering')) };
    expect(state(once, T0 + 60 * MIN)).toEqual({ kind: 'due', step: ladder[0] });
    expect(underwaySteps(once, rule).map((r) => r.after)).toEqual(['5m']);
    const twice = { ...once, escalations: withRecord(once, taken('5m')) };
    expect(twice.escalations).toHaveLength(1);
  });

  it('stops once acknowledged or resolved, and defers steps while snoozed', () => {
    const status = { deliveries: [delivered(T0)] };
    const at = '2026-03-01T10:01:00Z';
    const acked = {
      ...status,
      acknowledgement: { action: 'Acknowledged' as const, at, via: 'Card' as const },
    };
    expect(state(acked, T0 + 60 * MIN)).toEqual({ kind: 'idle' });
    expect(state(status, T0 + 60 * MIN, false)).toEqual({ kind: 'idle' });
    const until = '2026-03-01T10:30:00Z';
    const snoozed = {
      ...status,
      acknowledgement: { action: 'Snoozed' as const, at, until, via: 'Annotation' as const },
    };
    expect(state(snoozed, T0 + 6 * MIN)).toEqual({ kind: 'wait', at: Date.parse(until) });
    expect(state(snoozed, Date.parse(until))).toEqual({ kind: 'due', step: ladder[1] });
  });
});
