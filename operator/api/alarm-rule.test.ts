import { describe, expect, it } from 'vitest';
import { parseAlarmRule } from './parse.ts';

function rule(spec: Record<string, unknown>) {
  return { apiVersion: 'dingtalk.alarming.io/v1alpha1', kind: 'AlarmRule', metadata: { name: 'r' }, spec };
}

const services = [{ name: 'ops' }];

describe('AlarmRule', () => {
  it("defaults grouping to Alertmanager's 30s / 5m / 4h with resolved notifications, markdown, not suspended", () => {
    const { spec } = parseAlarmRule(rule({ services }));
    expect(spec.grouping).toEqual({
      groupWait: '30s',
      groupInterval: '5m',
      repeatInterval: '4h',
      sendResolved: true,
    });
    expect(spec.message.type).toBe('markdown');
    expect(spec.match).toEqual({});
    expect(spec.suspend).toBe(false);
  });

  it('offers every action, snoozing for an hour, to a rule that opts into interactive delivery', () => {
    const { spec } = parseAlarmRule(rule({ services, interactive: {} }));
    expect(spec.interactive).toEqual({ actions: ['Acknowledge', 'Snooze', 'Resolve'] });
    expect(spec.escalation).toBeUndefined();
  });

  it("lets an actionCard override use the message's url", () => {
    const message = { url: 'https://example.com', overrides: [{ severity: 'critical', type: 'actionCard' }] };
    expect(() => parseAlarmRule(rule({ services, message }))).not.toThrow();
  });

  it('defaults the time zone of windows to UTC', () => {
    const { spec } = parseAlarmRule(
      rule({ services, timeWindows: { mute: [{ start: '22:00', end: '06:00' }] } }),
    );
    expect(spec.timeWindows?.timeZone).toBe('UTC');
  });

  it.each([
    ['no services', {}, 'spec.services'],
    [
      'a service listed twice',
      { services: [{ name: 'ops' }, { name: 'ops' }] },
      'spec.services: each service may be listed once',
    ],
    [
      'groups without Group in sendTo',
      { services: [{ name: 'ops', sendTo: ['Member'], groups: ['Ops'] }] },
      'spec.services[0].groups: groups are listed but sendTo contains neither Group nor AppGroup',
    ],
    [
      'a bad duration',
      { services, grouping: { groupWait: '30 seconds' } },
      'spec.grouping.groupWait: must be a duration',
    ],
    [
      'a link message without url',
      { services, message: { type: 'link' } },
      'spec.message.url: link and actionCard messages need url',
    ],
    [
      'mentions in a link message',
      { services, message: { type: 'link', url: 'https://x', mentions: { atAll: true } } },
      'spec.message.mentions: link messages cannot @-mention anyone',
    ],
    [
      'an actionCard override without url',
      { services, message: { overrides: [{ severity: 'critical', type: 'actionCard' }] } },
      'spec.message.overrides: an override of type link or actionCard needs url',
    ],
    [
      'a window that starts when it ends',
      { services, timeWindows: { active: [{ start: '09:00', end: '09:00' }] } },
      'spec.timeWindows.active[0].end',
    ],
    [
      'a time of 25:00',
      { services, timeWindows: { mute: [{ start: '25:00', end: '26:00' }] } },
      'spec.timeWindows.mute[0].start: must be HH:MM',
    ],
    [
      'snooze durations without Snooze',
      { services, interactive: { actions: ['Acknowledge'], snoozeDurations: ['30m'] } },
      'spec.interactive.snoozeDurations: snoozeDurations are listed but actions does not offer Snooze',
    ],
    [
      'an escalation step listed twice',
      {
        services,
        escalation: [
          { after: '5m', to: { name: 'ops' } },
          { after: '5m', to: { name: 'b' } },
        ],
      },
      'spec.escalation: each after may be listed once',
    ],
    [
      'a remindType on a Message step',
      { services, escalation: [{ after: '5m', to: { name: 'ops' }, remindType: 'Call' }] },
      'spec.escalation[0].remindType: remindType is for via Ding',
    ],
    [
      'groups on a Ding step',
      { services, escalation: [{ after: '5m', via: 'Ding', to: { name: 'ops', groups: ['Ops'] } }] },
      "spec.escalation[0].to.groups: a Ding reaches the service's members",
    ],
    [
      'an escalation step without a service',
      { services, escalation: [{ after: '5m', to: {} }] },
      'spec.escalation[0].to.name',
    ],
    [
      'In without values',
      { services, match: { labels: { matchExpressions: [{ key: 'team', operator: 'In' }] } } },
      'spec.match.labels.matchExpressions[0].values',
    ],
  ])('rejects %s, naming the field', (_, spec, expected) => {
    expect(() => parseAlarmRule(rule(spec))).toThrow(expected);
  });
});
