import { describe, expect, it } from 'vitest';
import { annotationRequest } from './ack-annotations.ts';

const ACK = 'dingtalk.alarming.io/ack';
const BY = 'dingtalk.alarming.io/ack-by';

describe('annotationRequest', () => {
  it('reads acknowledge, snooze=<duration> and resolve, with who from ack-by', () => {
    expect(annotationRequest({ [ACK]: 'acknowledge', [BY]: 'u1' })).toEqual({
      value: 'acknowledge by u1',
      action: 'Acknowledge',
      by: 'u1',
    });
    expect(annotationRequest({ [ACK]: 'snooze=30m' })).toEqual({
      value: 'snooze=30m',
      action: 'Snooze',
      snooze: '30m',
    });
    expect(annotationRequest({ [ACK]: 'Resolve' })).toEqual({ value: 'Resolve', action: 'Resolve' });
    expect(annotationRequest({ other: 'x' })).toBeUndefined();
  });

  it.each([
    ['an unknown word', { [ACK]: 'later' }, ACK],
    ['snooze without a duration', { [ACK]: 'snooze' }, ACK],
    ['a duration on acknowledge', { [ACK]: 'acknowledge=5m' }, ACK],
    ['an ack-by that is no userId', { [ACK]: 'acknowledge', [BY]: 'Zhang San' }, BY],
  ])('names the annotation at fault for %s', (_, annotations, named) => {
    const request = annotationRequest(annotations);
    expect(request && 'invalid' in request && request.invalid).toContain(named);
  });
});
