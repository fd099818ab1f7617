import { describe, expect, it } from 'vitest';
import { parseAlarmEvent } from './parse.ts';

function event(spec: Record<string, unknown>) {
  return { apiVersion: 'dingtalk.alarming.io/v1alpha1', kind: 'AlarmEvent', metadata: { name: 'e' }, spec };
}

describe('AlarmEvent', () => {
  it('is firing unless said otherwise', () => {
    expect(parseAlarmEvent(event({ severity: 'info', title: 'hello' })).spec.state).toBe('firing');
  });

  it('accepts timestamps with an offset', () => {
    const spec = {
      severity: 'info',
      title: 't',
      startsAt: '2025-05-01T08:00:00+08:00',
      endsAt: '2025-05-01T00:30:00Z',
    };
    expect(() => parseAlarmEvent(event(spec))).not.toThrow();
  });

  it('accepts a full delivery ledger in status', () => {
    const status = {
      phase: 'PartiallyDelivered',
      deliveries: [
        {
          ruleNamespace: 'ns',
          rule: 'r',
          service: 's',
          targetKind: 'Group',
          targetName: 'Ops',
          state: 'Delivered',
          attempts: 1,
          msgUuid: 'u',
        },
        {
          ruleNamespace: 'ns',
          rule: 'r',
          service: 's',
          targetKind: 'Member',
          targetName: 'u1',
          state: 'Failed',
          errcode: '310000',
        },
      ],
      finishedAt: '2025-05-01T08:00:05Z',
    };
    expect(parseAlarmEvent({ ...event({ severity: 'critical', title: 't' }), status }).status?.phase).toBe(
      'PartiallyDelivered',
    );
  });

  it.each([
    ['an unknown severity', { severity: 'fatal', title: 't' }, 'spec.severity'],
    ['no title', { severity: 'info' }, 'spec.title'],
    ['an unknown state', { severity: 'info', title: 't', state: 'open' }, 'spec.state'],
    ['a date that is not RFC 3339', { severity: 'info', title: 't', startsAt: 'yesterday' }, 'spec.startsAt'],
    [
      'an end before the start',
      { severity: 'info', title: 't', startsAt: '2025-05-01T08:00:00Z', endsAt: '2025-05-01T07:00:00Z' },
      'spec.endsAt: endsAt must not be before startsAt',
    ],
    ['a non-string label', { severity: 'info', title: 't', labels: { team: 1 } }, 'spec.labels.team'],
  ])('rejects %s, naming the field', (_, spec, expected) => {
    expect(() => parseAlarmEvent(event(spec))).toThrow(expected);
  });
});
