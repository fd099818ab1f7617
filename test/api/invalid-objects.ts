/** Objects the API server must reject, each with the field its message has to name. */
export interface InvalidObject {
  name: string;
  object: { kind: string; spec?: Record<string, unknown> };
  /** The offending field, spelled as in the API server's message, e.g. `spec.groups[0].webhook.key`. */
  field: string;
  /** Further text the message has to contain, e.g. the CEL rule's message. */
  says?: string;
  /** Why the operator's parse helper cannot reject it too; omitted when it must. */
  serverOnly?: string;
}

const group = { name: 'Ops', webhook: { name: 'ops-robot', key: 'webhook' } };
const robot = (name: string) => ({ name, webhook: { name: `robot-${name}`, key: 'webhook' } });
const member = {
  clientId: 'dingapp',
  clientSecret: { name: 'app', key: 'secret' },
  members: [{ userId: 'u1' }],
};
const services = [{ name: 'ops' }];
const event = { severity: 'warning', title: 'Disk almost full' };

const dts = (spec: Record<string, unknown>) => ({ kind: 'DingTalkService', spec });
const ar = (spec: Record<string, unknown>) => ({ kind: 'AlarmRule', spec });
const ae = (spec: Record<string, unknown>) => ({ kind: 'AlarmEvent', spec });

export const invalidObjects: InvalidObject[] = [
  {
    name: 'snooze durations without Snooze',
    object: ar({ services, interactive: { actions: ['Acknowledge'], snoozeDurations: ['30m'] } }),
    field: 'spec.interactive.snoozeDurations',
    says: 'snoozeDurations are listed but actions does not offer Snooze',
  },
  {
    name: 'an escalation step without its service',
    object: ar({ services, escalation: [{ after: '5m', to: {} }] }),
    field: 'spec.escalation[0].to.name',
  },
  {
    name: 'groups on a Ding escalation step',
    object: ar({
      services,
      escalation: [{ after: '5m', via: 'Ding', to: { name: 'ops', groups: ['Ops'] } }],
    }),
    field: 'spec.escalation[0].to.groups',
    says: "a Ding reaches the service's members",
  },
  { name: 'service without spec', object: { kind: 'DingTalkService' }, field: 'spec' },
  { name: 'service without sendTo', object: dts({ groups: [group] }), field: 'spec.sendTo' },
  { name: 'empty sendTo', object: dts({ sendTo: [] }), field: 'spec.sendTo' },
  {
    name: 'unknown sendTo value',
    object: dts({ sendTo: ['Email'] }),
    field: 'spec.sendTo[0]',
    says: 'Email',
  },
  {
    name: 'Group without groups',
    object: dts({ sendTo: ['Group'] }),
    field: 'spec.groups',
    says: 'sendTo contains Group, so groups needs at least one group',
  },
  {
    name: 'Member without member credentials',
    object: dts({ sendTo: ['Member'] }),
    field: 'spec.member',
    says: 'sendTo contains Member',
  },
  {
    name: 'AppGroup without groups reached through the app',
    object: dts({ sendTo: ['AppGroup'], member }),
    field: 'spec.member.groups',
    says: 'sendTo contains AppGroup, so member.groups needs at least one group',
  },
  {
    name: 'a group name used by both groups and member.groups',
    object: dts({
      sendTo: ['Group', 'AppGroup'],
      groups: [group],
      member: { ...member, groups: [{ name: 'Ops', openConversationId: 'cidOps==' }] },
    }),
    field: 'spec.member.groups',
    says: 'a name is used by both groups and member.groups',
  },
  {
    name: 'openConversationId that is not one',
    object: dts({
      sendTo: ['AppGroup'],
      member: { ...member, groups: [{ name: 'Ops', openConversationId: 'cid with spaces' }] },
    }),
    field: 'spec.member.groups[0].openConversationId',
  },
  {
    name: 'duplicate group names',
    object: dts({
      sendTo: ['Group'],
      groups: [group, { ...group, webhook: { name: 'other', key: 'webhook' } }],
    }),
    field: 'spec.groups',
    says: 'group names must be unique',
  },
  {
    name: 'group without webhook or robots',
    object: dts({ sendTo: ['Group'], groups: [{ name: 'Ops' }] }),
    field: 'spec.groups[0]',
    says: 'set exactly one of webhook or robots',
  },
  {
    name: 'group with both webhook and robots',
    object: dts({ sendTo: ['Group'], groups: [{ ...group, robots: [robot('a')] }] }),
    field: 'spec.groups[0]',
    says: 'set exactly one of webhook or robots',
  },
  {
    name: 'pool with keywords on the group instead of its robots',
    object: dts({ sendTo: ['Group'], groups: [{ name: 'Ops', robots: [robot('a')], keywords: ['alarm'] }] }),
    field: 'spec.groups[0].robots',
    says: 'with robots, set signature and keywords on each robot',
  },
  {
    name: 'pool robot with an invalid name',
    object: dts({ sendTo: ['Group'], groups: [{ name: 'Ops', robots: [robot('Robot A')] }] }),
    field: 'spec.groups[0].robots[0].name',
  },
  {
    name: 'pool robot without webhook',
    object: dts({ sendTo: ['Group'], groups: [{ name: 'Ops', robots: [{ name: 'a' }] }] }),
    field: 'spec.groups[0].robots[0].webhook',
  },
  {
    name: 'webhook secret reference without key',
    object: dts({ sendTo: ['Group'], groups: [{ name: 'Ops', webhook: { name: 'ops-robot' } }] }),
    field: 'spec.groups[0].webhook.key',
  },
  {
    name: 'secret name that is not a Kubernetes name',
    object: dts({ sendTo: ['Group'], groups: [{ ...group, signature: { name: 'Ops_Robot', key: 'sec' } }] }),
    field: 'spec.groups[0].signature.name',
  },
  {
    name: "rate limit above DingTalk's 20 a minute",
    object: dts({ sendTo: ['Group'], groups: [{ ...group, rateLimitPerMinute: 30 }] }),
    field: 'spec.groups[0].rateLimitPerMinute',
  },
  {
    name: 'rate limit given as a string',
    object: dts({ sendTo: ['Group'], groups: [{ ...group, rateLimitPerMinute: '20' }] }),
    field: 'spec.groups[0].rateLimitPerMinute',
  },
  {
    name: 'more than 10 keywords',
    object: dts({
      sendTo: ['Group'],
      groups: [{ ...group, keywords: Array.from({ length: 11 }, (_, i) => `k${i}`) }],
    }),
    field: 'spec.groups[0].keywords',
  },
  {
    name: 'member without clientSecret',
    object: dts({ sendTo: ['Member'], member: { ...member, clientSecret: undefined } }),
    field: 'spec.member.clientSecret',
  },
  {
    name: 'member without members or membersFrom',
    object: dts({ sendTo: ['Member'], member: { ...member, members: undefined } }),
    field: 'spec.member.members',
    says: 'member needs at least one of members or membersFrom',
  },
  {
    name: 'member given by both userId and mobile',
    object: dts({
      sendTo: ['Member'],
      member: { ...member, members: [{ userId: 'u1', mobile: '13800000000' }] },
    }),
    field: 'spec.member.members[0]',
    says: 'set exactly one of userId or mobile',
  },
  {
    name: 'member given by neither userId nor mobile',
    object: dts({ sendTo: ['Member'], member: { ...member, members: [{ name: 'Li Lei' }] } }),
    field: 'spec.member.members[0]',
    says: 'set exactly one of userId or mobile',
  },
  {
    name: 'mobile that is not a number',
    object: dts({ sendTo: ['Member'], member: { ...member, members: [{ mobile: 'call-me-maybe' }] } }),
    field: 'spec.member.members[0].mobile',
  },
  {
    name: 'membersFrom without a ConfigMap key',
    object: dts({ sendTo: ['Member'], member: { ...member, membersFrom: { name: 'contacts' } } }),
    field: 'spec.member.membersFrom.key',
  },
  {
    name: 'unknown field (a typo of groups)',
    object: dts({ sendTo: ['Group'], groups: [group], group: [] }),
    field: 'spec.group',
    serverOnly: 'the operator tolerates fields a newer CRD version may add; kubectl validates strictly',
  },
  { name: 'rule without services', object: ar({}), field: 'spec.services' },
  { name: 'rule with an empty services list', object: ar({ services: [] }), field: 'spec.services' },
  {
    name: 'service listed twice',
    object: ar({ services: [{ name: 'ops' }, { name: 'ops', sendTo: ['Group'] }] }),
    field: 'spec.services',
    says: 'each service may be listed once',
  },
  {
    name: 'service name that is not a Kubernetes name',
    object: ar({ services: [{ name: 'Ops Groups' }] }),
    field: 'spec.services[0].name',
  },
  {
    name: 'groups picked while sendTo excludes Group',
    object: ar({ services: [{ name: 'ops', sendTo: ['Member'], groups: ['Ops'] }] }),
    field: 'spec.services[0].groups',
    says: 'groups are listed but sendTo contains neither Group nor AppGroup',
  },
  {
    name: 'groupWait that is not a duration',
    object: ar({ services, grouping: { groupWait: '30 seconds' } }),
    field: 'spec.grouping.groupWait',
  },
  {
    name: 'repeatInterval without a unit',
    object: ar({ services, grouping: { repeatInterval: '4' } }),
    field: 'spec.grouping.repeatInterval',
  },
  {
    name: 'unknown severity to match',
    object: ar({ services, match: { severities: ['fatal'] } }),
    field: 'spec.match.severities[0]',
  },
  {
    name: 'In expression without values',
    object: ar({ services, match: { labels: { matchExpressions: [{ key: 'team', operator: 'In' }] } } }),
    field: 'spec.match.labels.matchExpressions[0].values',
  },
  {
    name: 'unknown message type',
    object: ar({ services, message: { type: 'html' } }),
    field: 'spec.message.type',
  },
  {
    name: 'link message without url',
    object: ar({ services, message: { type: 'link' } }),
    field: 'spec.message.url',
    says: 'link and actionCard messages need url',
  },
  {
    name: '@-mentions in a link message',
    object: ar({
      services,
      message: { type: 'link', url: 'https://example.com', mentions: { atAll: true } },
    }),
    field: 'spec.message.mentions',
    says: 'link messages cannot @-mention anyone',
  },
  {
    name: 'two overrides for one severity',
    object: ar({ services, message: { overrides: [{ severity: 'critical' }, { severity: 'critical' }] } }),
    field: 'spec.message.overrides',
    says: 'each severity may have one override',
  },
  {
    name: 'more than 50 userIds to @-mention',
    object: ar({
      services,
      message: { mentions: { userIds: Array.from({ length: 51 }, (_, i) => `u${i}`) } },
    }),
    field: 'spec.message.mentions.userIds',
  },
  {
    name: 'time window start without leading zero',
    object: ar({ services, timeWindows: { active: [{ start: '9:00', end: '18:00' }] } }),
    field: 'spec.timeWindows.active[0].start',
  },
  {
    name: 'time window that starts when it ends',
    object: ar({ services, timeWindows: { mute: [{ start: '22:00', end: '22:00' }] } }),
    field: 'spec.timeWindows.mute[0].end',
    says: 'start and end must differ',
  },
  {
    name: 'unknown day of the week',
    object: ar({ services, timeWindows: { mute: [{ days: ['Funday'], start: '22:00', end: '23:00' }] } }),
    field: 'spec.timeWindows.mute[0].days[0]',
  },
  { name: 'suspend given as a string', object: ar({ services, suspend: 'yes' }), field: 'spec.suspend' },
  { name: 'event without severity', object: ae({ title: 'Disk almost full' }), field: 'spec.severity' },
  { name: 'unknown severity', object: ae({ ...event, severity: 'fatal' }), field: 'spec.severity' },
  { name: 'event without title', object: ae({ severity: 'info' }), field: 'spec.title' },
  { name: 'unknown state', object: ae({ ...event, state: 'open' }), field: 'spec.state' },
  {
    name: 'startsAt that is not a timestamp',
    object: ae({ ...event, startsAt: 'yesterday' }),
    field: 'spec.startsAt',
  },
  {
    name: 'endsAt before startsAt',
    object: ae({ ...event, startsAt: '2025-05-01T08:00:00Z', endsAt: '2025-05-01T07:59:59Z' }),
    field: 'spec.endsAt',
    says: 'endsAt must not be before startsAt',
  },
  {
    name: 'label value that is a number',
    object: ae({ ...event, labels: { replicas: 3 } }),
    field: 'spec.labels.replicas',
  },
  {
    name: 'fingerprint with spaces',
    object: ae({ ...event, fingerprint: 'not a key' }),
    field: 'spec.fingerprint',
  },
];
