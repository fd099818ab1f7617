import { describe, expect, it } from 'vitest';
import {
  type AckRequest,
  acknowledgementEvent,
  decideAcknowledgement,
  escalationHold,
  offeredBy,
  repeatsPaused,
} from './acknowledgement.ts';

const NOW = Date.parse('2026-03-01T10:00:00Z');
const event = { namespace: 'team-a', name: 'disk-full', uid: 'uid-1', state: 'firing' as const };
const names: Record<string, string> = { u1: 'Zhang San', u2: 'Li Si' };

function request(change: Partial<AckRequest> = {}): AckRequest {
  return {
    event,
    cardFor: { namespace: 'team-a', name: 'disk-full', uid: 'uid-1' },
    action: 'Acknowledge',
    userId: 'u1',
    via: 'Card',
    audience: { kind: 'Members', userIds: new Set(['u1', 'u2']) },
    offered: offeredBy([{ actions: ['Acknowledge', 'Snooze', 'Resolve'], snoozeDurations: ['30m', '2h'] }]),
    nameOf: (userId) => names[userId],
    now: NOW,
    ...change,
  };
}

describe('decideAcknowledgement', () => {
  it('records who acknowledged, with their name from the member lists, when and through what', () => {
    expect(decideAcknowledgement(request())).toEqual({
      outcome: 'Recorded',
      acknowledgement: {
        action: 'Acknowledged',
        by: { userId: 'u1', name: 'Zhang San' },
        at: '2026-03-01T10:00:00Z',
        via: 'Card',
      },
      message: 'acknowledged by Zhang San (u1) via Card',
    });
  });

  it('changes nothing for the same click twice, nor for a second claim by someone else', () => {
    const first = decideAcknowledgement(request());
    if (first.outcome !== 'Recorded') throw new Error(first.outcome);
    const later = { ...event, acknowledgement: first.acknowledgement };
    for (const userId of ['u1', 'u2']) {
      const again = decideAcknowledgement(request({ event: later, userId, now: NOW + 5_000 }));
      expect(again).toMatchObject({ outcome: 'Unchanged', acknowledgement: first.acknowledgement });
    }
  });

  it('lets a snooze follow an acknowledgement, so repeats come back when it ends', () => {
    const first = decideAcknowledgement(request());
    if (first.outcome !== 'Recorded') throw new Error(first.outcome);
    const later = { ...event, acknowledgement: first.acknowledgement };
    const snoozed = decideAcknowledgement(request({ event: later, action: 'Snooze', snooze: '30m' }));
    expect(snoozed).toMatchObject({ outcome: 'Recorded', acknowledgement: { action: 'Snoozed' } });
    if (snoozed.outcome === 'Recorded')
      expect(repeatsPaused(snoozed.acknowledgement, NOW + 30 * 60_000)).toBe(false);
  });

  it('snoozes until the chosen duration has passed; the same snooze again changes nothing', () => {
    const snoozed = decideAcknowledgement(request({ action: 'Snooze', snooze: '30m' }));
    expect(snoozed).toMatchObject({
      outcome: 'Recorded',
      acknowledgement: { action: 'Snoozed', until: '2026-03-01T10:30:00Z' },
    });
    if (snoozed.outcome !== 'Recorded') return;
    const later = { ...event, acknowledgement: snoozed.acknowledgement };
    expect(
      decideAcknowledgement(request({ event: later, action: 'Snooze', snooze: '30m', now: NOW + 2_000 })),
    ).toMatchObject({ outcome: 'Unchanged' });
    expect(
      decideAcknowledgement(request({ event: later, action: 'Snooze', snooze: '2h', now: NOW + 2_000 })),
    ).toMatchObject({ outcome: 'Recorded', acknowledgement: { until: '2026-03-01T12:00:02Z' } });
    expect(decideAcknowledgement(request({ event: later, now: NOW + 2_000 }))).toMatchObject({
      outcome: 'Recorded',
      acknowledgement: { action: 'Acknowledged' },
    });
  });

  it('offers a card only its own snooze durations, and a terminal any duration up to the longest', () => {
    expect(decideAcknowledgement(request({ action: 'Snooze', snooze: '45m' }))).toMatchObject({
      outcome: 'Refused',
      reason: 'InvalidSnooze',
    });
    const terminal = { via: 'Annotation' as const, audience: { kind: 'Kubernetes' as const } };
    expect(decideAcknowledgement(request({ ...terminal, action: 'Snooze', snooze: '45m' }))).toMatchObject({
      outcome: 'Recorded',
    });
    for (const snooze of ['3h', 'soon', undefined])
      expect(decideAcknowledgement(request({ ...terminal, action: 'Snooze', snooze }))).toMatchObject({
        outcome: 'Refused',
        reason: 'InvalidSnooze',
      });
  });

  it('refuses a click by someone the card did not go to', () => {
    expect(decideAcknowledgement(request({ userId: 'mallory' }))).toMatchObject({
      outcome: 'Refused',
      reason: 'NotAMember',
    });
    expect(decideAcknowledgement(request({ userId: undefined }))).toMatchObject({ reason: 'NotAMember' });
  });

  it("checks a group's members when known, and otherwise records that they were not checked", () => {
    const known = { kind: 'Group' as const, name: 'Ops', userIds: new Set(['u2']) };
    expect(decideAcknowledgement(request({ audience: known }))).toMatchObject({ reason: 'NotAMember' });
    expect(decideAcknowledgement(request({ audience: { kind: 'Group', name: 'Ops' } }))).toMatchObject({
      outcome: 'Recorded',
      acknowledgement: { unverified: "membership of group Ops not checked: DingTalk's word taken" },
    });
  });

  it('refuses a card for another alarm: gone, or a new event under the same name', () => {
    expect(decideAcknowledgement(request({ event: undefined }))).toMatchObject({ reason: 'UnknownEvent' });
    const reused = { ...event, uid: 'uid-2' };
    expect(decideAcknowledgement(request({ event: reused }))).toMatchObject({ reason: 'UnknownEvent' });
  });

  it('refuses actions the rules do not offer', () => {
    const offered = offeredBy([{ actions: ['Acknowledge'] }, undefined]);
    expect(decideAcknowledgement(request({ offered, action: 'Resolve' }))).toMatchObject({
      reason: 'ActionNotOffered',
    });
    expect(decideAcknowledgement(request({ offered: offeredBy([undefined]) }))).toMatchObject({
      reason: 'ActionNotOffered',
    });
  });

  it('refuses everything but the same resolve once the alarm is resolved', () => {
    const resolved = decideAcknowledgement(request({ action: 'Resolve' }));
    if (resolved.outcome !== 'Recorded') throw new Error(resolved.outcome);
    const later = { ...event, acknowledgement: resolved.acknowledgement };
    expect(decideAcknowledgement(request({ event: later, action: 'Resolve' }))).toMatchObject({
      outcome: 'Unchanged',
    });
    expect(decideAcknowledgement(request({ event: later }))).toMatchObject({ reason: 'AlreadyResolved' });
    expect(decideAcknowledgement(request({ event: { ...event, state: 'resolved' } }))).toMatchObject({
      reason: 'AlreadyResolved',
    });
  });

  it('takes an annotation without ack-by as nobody in particular', () => {
    const decision = decideAcknowledgement(
      request({ via: 'Annotation', audience: { kind: 'Kubernetes' }, userId: undefined }),
    );
    expect(decision).toMatchObject({ outcome: 'Recorded', message: 'acknowledged via Annotation' });
    expect(decision.outcome === 'Recorded' && decision.acknowledgement.by).toBeUndefined();
  });
});

describe('acknowledgementEvent', () => {
  it('reports a recorded action as Normal and a refusal as Warning, naming what asked', () => {
    const source = 'dingtalk.alarming.io/ack: acknowledge';
    expect(acknowledgementEvent(decideAcknowledgement(request()), source)).toEqual({
      type: 'Normal',
      reason: 'Acknowledged',
      action: 'Acknowledge',
      note: `acknowledged by Zhang San (u1) via Card (${source})`,
    });
    const refusal = decideAcknowledgement(request({ userId: 'mallory' }));
    expect(acknowledgementEvent(refusal, source)).toMatchObject({ type: 'Warning', reason: 'NotAMember' });
  });
});

describe('effects', () => {
  const at = '2026-03-01T10:00:00Z';
  const snoozed = { action: 'Snoozed' as const, at, until: '2026-03-01T10:30:00Z', via: 'Card' as const };

  it('pauses repeats while acknowledged, resolved or snoozed, and resumes them when a snooze ends', () => {
    expect(repeatsPaused(undefined, NOW)).toBe(false);
    expect(repeatsPaused({ action: 'Acknowledged', at, via: 'Card' }, NOW)).toBe(true);
    expect(repeatsPaused({ action: 'Resolved', at, via: 'Card' }, NOW)).toBe(true);
    expect(repeatsPaused(snoozed, NOW + 29 * 60_000)).toBe(true);
    expect(repeatsPaused(snoozed, NOW + 30 * 60_000)).toBe(false);
  });

  it('stops escalation when acknowledged or resolved, and defers it while snoozed', () => {
    expect(escalationHold(undefined)).toBeUndefined();
    expect(escalationHold({ action: 'Acknowledged', at, via: 'Annotation' })).toBe('stopped');
    expect(escalationHold(snoozed)).toEqual({ until: NOW + 30 * 60_000 });
  });
});
