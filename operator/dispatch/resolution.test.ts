import { describe, expect, it } from 'vitest';
import type { AlarmEventStatus, Delivery } from '../api/index.ts';
import { summarize } from './ledger.ts';
import {
  intakeOf,
  markResolved,
  RESOLVED_CONDITION,
  recordsResolved,
  reopenForResolved,
} from './resolution.ts';

const now = new Date('2026-05-01T08:00:00Z');
const target = { ruleNamespace: 'ns', rule: 'to-ops', service: 'ops', targetKind: 'Group' as const };

function delivered(targetName: string): Delivery {
  return {
    ...target,
    targetName,
    state: 'Delivered',
    attempts: 2,
    msgUuid: `uuid-${targetName}`,
    lastAttemptAt: '2026-05-01T07:00:00Z',
    deliveredAt: '2026-05-01T07:00:01Z',
    messageId: 'm1',
    lastError: 'connection reset',
  };
}

function finished(deliveries: Delivery[], observedGeneration = 1): AlarmEventStatus {
  return {
    phase: summarize(deliveries).phase,
    observedGeneration,
    deliveries,
    finishedAt: '2026-05-01T07:00:01Z',
  };
}

describe('intakeOf', () => {
  it('dispatches an event that is not finished, firing or resolved', () => {
    expect(intakeOf({ generation: 1, state: 'firing' })).toBe('dispatch');
    const reopened: AlarmEventStatus = { phase: 'Pending', observedGeneration: 2, deliveries: [] };
    expect(intakeOf({ generation: 2, state: 'resolved', status: reopened })).toBe('dispatch');
  });

  it('re-opens a finished firing ledger once the event is resolved in a later generation', () => {
    const status = finished([delivered('ops')]);
    expect(intakeOf({ generation: 2, state: 'resolved', status })).toBe('reopen');
  });

  it('leaves finished events alone otherwise', () => {
    const status = finished([delivered('ops')]);
    // Label edits of a firing event.
    expect(intakeOf({ generation: 3, state: 'firing', status })).toBe('finished');
    // Created resolved: the ledger was computed from this generation.
    expect(intakeOf({ generation: 1, state: 'resolved', status })).toBe('finished');
    // Already re-opened and finished again; a later label edit sends nothing.
    const resolved = finished([delivered('ops')], 2);
    markResolved(resolved, 2, now);
    expect(intakeOf({ generation: 3, state: 'resolved', status: resolved })).toBe('finished');
  });
});

describe('reopenForResolved', () => {
  it('starts every delivered target afresh as Pending and re-opens the event', () => {
    const status = finished([delivered('ops'), delivered('dev')]);
    expect(reopenForResolved(status, () => true, 2, now)).toBe(2);
    expect(status.deliveries).toEqual([
      { ...target, targetName: 'ops', state: 'Pending' },
      { ...target, targetName: 'dev', state: 'Pending' },
    ]);
    expect(status.finishedAt).toBeUndefined();
    expect(summarize(status.deliveries ?? [])).toEqual({ phase: 'Pending', finished: false });
    expect(recordsResolved(status)).toBe(true);
    expect(status.conditions?.find((c) => c.type === RESOLVED_CONDITION)).toMatchObject({
      status: 'True',
      observedGeneration: 2,
    });
  });

  it('keeps targets never notified firing, and targets no longer planned, as they were', () => {
    const muted: Delivery = { ...target, targetName: 'quiet', state: 'Suppressed', reason: 'Muted' };
    const failed: Delivery = { ...target, targetName: 'broken', state: 'Failed', reason: 'DingTalkError' };
    const status = finished([delivered('ops'), delivered('gone'), muted, failed]);
    expect(reopenForResolved(status, (id) => id.targetName !== 'gone', 2, now)).toBe(1);
    expect(status.deliveries?.map((d) => [d.targetName, d.state])).toEqual([
      ['ops', 'Pending'],
      ['gone', 'Delivered'],
      ['quiet', 'Suppressed'],
      ['broken', 'Failed'],
    ]);
    expect(status.deliveries?.[1]).toEqual(delivered('gone'));
  });

  it('leaves an event with nothing to resolve finished, but records that it was looked at', () => {
    const muted: Delivery = { ...target, targetName: 'quiet', state: 'Suppressed', reason: 'Muted' };
    const status = finished([muted]);
    expect(reopenForResolved(status, () => true, 2, now)).toBe(0);
    expect(status.finishedAt).toBe('2026-05-01T07:00:01Z');
    expect(intakeOf({ generation: 2, state: 'resolved', status: { ...status, observedGeneration: 2 } })).toBe(
      'finished',
    );
    expect(recordsResolved(status)).toBe(true);
  });
});
