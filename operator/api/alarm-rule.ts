import { z } from 'zod';
import { Interactive } from './acknowledgement.ts';
import { Conditions, ObservedGeneration } from './condition.ts';
import { withRules } from './cross-field-rules.ts';
import { Duration } from './duration.ts';
import { Escalation } from './escalation.ts';
import { GROUP, VERSION } from './group.ts';
import { LabelSelector } from './label-selector.ts';
import { customResource, type KindDefinition, readinessColumns } from './resource.ts';
import { ServiceRef } from './service-ref.ts';
import { SEVERITIES, Severity } from './severity.ts';
import { Timestamp } from './timestamp.ts';

export const AlarmRuleGvk = { group: GROUP, version: VERSION, kind: 'AlarmRule' } as const;
export const ALARM_RULE_PLURAL = 'alarmrules';

/** Alertmanager's defaults, which users already know. */
export const GROUPING_DEFAULTS = { groupWait: '30s', groupInterval: '5m', repeatInterval: '4h' } as const;

// DingTalk @-mentions at most 50 people per message.
const MAX_MENTIONS = 50;
const TEMPLATE_MAX = 16384;

export const AlarmMatch = z.object({
  severities: z
    .array(Severity)
    .min(1)
    .max(SEVERITIES.length)
    .meta({ 'x-kubernetes-list-type': 'set' })
    .optional()
    .describe(`Severities that match (${SEVERITIES.join(', ')}). Omitted: every severity.`),
  labels: LabelSelector.optional().describe(
    "Selector over the AlarmEvent's spec.labels. Omitted: every alarm.",
  ),
  sources: z
    .array(z.string().min(1).max(253))
    .min(1)
    .max(32)
    .meta({ 'x-kubernetes-list-type': 'set' })
    .optional()
    .describe('Values of spec.source that match, e.g. alertmanager. Omitted: every source.'),
});
export type AlarmMatch = z.output<typeof AlarmMatch>;

const LabelMention = z.object({
  key: z.string().min(1).max(317).describe('Label key on the AlarmEvent, e.g. owner.'),
  type: z
    .enum(['userId', 'mobile'])
    .default('userId')
    .describe("Whether the label's value is a DingTalk userId or a mobile number. Default: userId."),
});

export const Mentions = z.object({
  userIds: z
    .array(z.string().min(1).max(64))
    .max(MAX_MENTIONS)
    .optional()
    .describe('DingTalk userIds to @-mention; `@userId` is added to the text, as DingTalk requires.'),
  mobiles: z
    .array(z.string().min(5).max(32))
    .max(MAX_MENTIONS)
    .optional()
    .describe('Mobile numbers to @-mention; `@mobile` is added to the text, as DingTalk requires.'),
  atAll: z.boolean().default(false).describe('Whether to @-mention everyone in the group. Default: false.'),
  fromLabels: z
    .array(LabelMention)
    .max(8)
    .optional()
    .describe(
      "Mention whoever an alarm label names, e.g. the owner label's userId. Alarms without the label mention nobody extra.",
    ),
});
export type Mentions = z.output<typeof Mentions>;

const MessageType = z
  .enum(['markdown', 'text', 'actionCard', 'link'])
  .describe(
    'DingTalk message type: markdown, text, actionCard (a card with a button to url) or link (no @-mentions). Default: markdown; in an override, the rule-wide type.',
  );

function messageFields(defaultType: boolean) {
  return {
    type: defaultType ? MessageType.default('markdown') : MessageType.optional(),
    title: z
      .string()
      .max(1024)
      .optional()
      .describe(
        'Liquid template of the title (shown in the chat list; the heading of link and actionCard). Sees alarm (or alarms for a digest), rule and service. Omitted: the built-in title.',
      ),
    body: z
      .string()
      .max(TEMPLATE_MAX)
      .optional()
      .describe(
        'Liquid template of the message text, e.g. `{{ alarm.title }}: {{ alarm.message }}`. Sees alarm (or alarms for a digest), rule and service. Omitted: the built-in body.',
      ),
    url: z
      .string()
      .max(2048)
      .optional()
      .describe(
        'Liquid template of the URL that link messages open and the actionCard button leads to; required for both.',
      ),
    buttonTitle: z
      .string()
      .max(64)
      .optional()
      .describe("Text of the actionCard button. Omitted: 'View details'."),
    mentions: Mentions.optional().describe('Who to @-mention. Not available for link messages.'),
  };
}

type MessageShape = { type?: string; url?: string; mentions?: unknown };

const needsUrl = (m: MessageShape) => m.type === 'link' || m.type === 'actionCard';

const noMentionsInLinks = {
  rule: "!has(self.type) || self.type != 'link' || !has(self.mentions)",
  message: 'link messages cannot @-mention anyone; remove mentions or use markdown, text or actionCard',
  fieldPath: '.mentions' as const,
  holds: (m: MessageShape) => m.type !== 'link' || m.mentions === undefined,
};

const SeverityOverride = withRules(
  z.object({
    severity: Severity.describe('The severity this override applies to.'),
    ...messageFields(false),
  }),
  'Message fields that replace the rule-wide ones for alarms of one severity.',
  [noMentionsInLinks],
);

export const MessageSpec = withRules(
  z.object({
    ...messageFields(true),
    overrides: withRules(
      z
        .array(SeverityOverride)
        .max(SEVERITIES.length)
        .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['severity'] }),
      'Per-severity replacements for any of the fields above, e.g. @all and a red title for critical.',
      [
        {
          rule: 'self.all(o, self.exists_one(p, p.severity == o.severity))',
          message: 'each severity may have one override',
          holds: (overrides) => new Set(overrides.map((o) => o.severity)).size === overrides.length,
        },
      ],
    ).optional(),
  }),
  'How notifications read: type, Liquid templates and @-mentions.',
  [
    {
      // has(self.type): the API server checks the message's own default ({}) without filling in type.
      rule: "!has(self.type) || !(self.type in ['link', 'actionCard']) || has(self.url)",
      message: 'link and actionCard messages need url',
      fieldPath: '.url',
      reason: 'FieldValueRequired',
      holds: (m) => !needsUrl(m) || m.url !== undefined,
    },
    noMentionsInLinks,
    {
      rule: "!has(self.overrides) || has(self.url) || self.overrides.all(o, !has(o.type) || !(o.type in ['link', 'actionCard']) || has(o.url))",
      message: 'an override of type link or actionCard needs url, in the override or in message',
      fieldPath: '.overrides',
      holds: (m) =>
        m.url !== undefined || (m.overrides ?? []).every((o) => !needsUrl(o) || o.url !== undefined),
    },
  ],
);
export type MessageSpec = z.output<typeof MessageSpec>;

export const Grouping = z.object({
  groupBy: z
    .array(z.string().min(1).max(317))
    .max(16)
    .meta({ 'x-kubernetes-list-type': 'set' })
    .optional()
    .describe(
      "Label keys (plus severity and source) whose values split alarms into separate notifications. Empty: all of the rule's alarms form one group. '...' puts every distinct alarm in a group of its own.",
    ),
  groupWait: Duration.default(GROUPING_DEFAULTS.groupWait).describe(
    `How long a new group waits for more alarms before its first notification, e.g. 30s or 5m. Default: ${GROUPING_DEFAULTS.groupWait}.`,
  ),
  groupInterval: Duration.default(GROUPING_DEFAULTS.groupInterval).describe(
    `How long to wait before notifying about alarms added to a group that was already notified. Default: ${GROUPING_DEFAULTS.groupInterval}.`,
  ),
  repeatInterval: Duration.default(GROUPING_DEFAULTS.repeatInterval).describe(
    `How long to wait before repeating a notification for alarms that are still firing. Default: ${GROUPING_DEFAULTS.repeatInterval}.`,
  ),
  sendResolved: z.boolean().default(true).describe('Whether to notify when alarms resolve. Default: true.'),
});
export type Grouping = z.output<typeof Grouping>;

// HH:MM on a 24-hour clock; 24:00 ends a window at midnight.
const START_TIME = /^([01][0-9]|2[0-3]):[0-5][0-9]$/;
const END_TIME = /^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$/;

export const TimeWindow = withRules(
  z.object({
    days: z
      .array(z.enum(['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday']))
      .min(1)
      .max(7)
      .meta({ 'x-kubernetes-list-type': 'set' })
      .optional()
      .describe('Days of the week the window applies to, e.g. [Saturday, Sunday]. Omitted: every day.'),
    start: z
      .string()
      .length(5)
      .regex(START_TIME, 'must be HH:MM')
      .describe('Start of the window, HH:MM (24-hour clock).'),
    end: z
      .string()
      .length(5)
      .regex(END_TIME, 'must be HH:MM or 24:00')
      .describe(
        'End of the window, HH:MM or 24:00. Earlier than start: the window runs past midnight into the next day.',
      ),
  }),
  'A daily stretch of time on some days of the week, in the time zone of timeWindows.',
  [
    {
      rule: 'self.start != self.end',
      message: 'start and end must differ',
      fieldPath: '.end',
      holds: (w) => w.start !== w.end,
    },
  ],
);
export type TimeWindow = z.output<typeof TimeWindow>;

// IANA zone names, e.g. Asia/Shanghai, America/Argentina/Buenos_Aires, Etc/GMT+8; the operator checks the zone exists.
const TIME_ZONE = /^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/;

export const TimeWindows = z.object({
  timeZone: z
    .string()
    .max(64)
    .regex(TIME_ZONE)
    .default('UTC')
    .describe('IANA time zone of every window, e.g. Asia/Shanghai. Default: UTC.'),
  active: z
    .array(TimeWindow)
    .max(16)
    .optional()
    .describe('When given, the rule notifies only inside one of these windows.'),
  mute: z
    .array(TimeWindow)
    .max(16)
    .optional()
    .describe(
      'The rule does not notify inside these windows: alarms raised inside one are recorded as Suppressed (reason Muted) and not sent later.',
    ),
});
export type TimeWindows = z.output<typeof TimeWindows>;

const Services = withRules(
  z
    .array(ServiceRef)
    .min(1)
    .max(16)
    .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] }),
  'DingTalkServices (same namespace) that receive the notifications, and which of their targets.',
  [
    {
      rule: 'self.all(s, self.exists_one(t, t.name == s.name))',
      message: 'each service may be listed once',
      holds: (refs) => new Set(refs.map((r) => r.name)).size === refs.length,
    },
  ],
);

export const AlarmRuleSpec = z
  .object({
    description: z.string().max(1024).optional().describe('Free text describing what the rule is for.'),
    services: Services,
    match: AlarmMatch.prefault({}).describe(
      "Which AlarmEvents of the rule's own namespace the rule applies to; every given criterion must hold.",
    ),
    message: MessageSpec.prefault({}),
    grouping: Grouping.prefault({}).describe(
      "How alarms are batched into notifications, with Alertmanager's semantics (groupBy, groupWait, groupInterval, repeatInterval).",
    ),
    timeWindows: TimeWindows.optional().describe('When the rule may notify. Omitted: always.'),
    suspend: z
      .boolean()
      .default(false)
      .describe('Stops the rule from sending; matching alarms are recorded as Suppressed. Default: false.'),
    interactive: Interactive.optional().describe(
      'Lets people acknowledge, snooze or resolve alarms the rule sends. Omitted: the alarms cannot be acknowledged.',
    ),
    escalation: Escalation.optional().describe(
      'Steps that notify more people while an alarm stays unacknowledged. Omitted: no escalation.',
    ),
  })
  .describe('Which alarms go to which DingTalk targets, and how they read.');
export type AlarmRuleSpec = z.output<typeof AlarmRuleSpec>;

export const AlarmRuleStatus = z.object({
  observedGeneration: ObservedGeneration,
  conditions: Conditions.optional(),
  counters: z
    .object({
      matched: z.int().min(0).optional().describe('Alarms that matched the rule.'),
      notified: z.int().min(0).optional().describe('Notifications DingTalk accepted.'),
      suppressed: z
        .int()
        .min(0)
        .optional()
        .describe('Alarms not notified on purpose: muted, outside active windows or suspended.'),
      failed: z.int().min(0).optional().describe('Notifications given up on after retries.'),
    })
    .optional()
    .describe('Counters since the rule was created.'),
  lastFired: z
    .object({
      time: Timestamp.describe('When the notification was sent.'),
      alarmEvent: z
        .string()
        .max(253)
        .optional()
        .describe('Name of the AlarmEvent notified about (the newest, for a digest).'),
      severity: Severity.optional().describe('Its severity.'),
    })
    .optional()
    .describe('The last notification the rule sent.'),
});
export type AlarmRuleStatus = z.output<typeof AlarmRuleStatus>;

export const AlarmRule = customResource(AlarmRuleGvk.kind, AlarmRuleSpec, AlarmRuleStatus);
export type AlarmRule = z.output<typeof AlarmRule>;

export const alarmRuleDefinition: KindDefinition = {
  ...AlarmRuleGvk,
  listKind: 'AlarmRuleList',
  plural: ALARM_RULE_PLURAL,
  singular: 'alarmrule',
  shortNames: ['ar'],
  description:
    'AlarmRule decides which alarms (AlarmEvents) go to which DingTalkService targets, how they are grouped, when they may be sent and how they read.',
  spec: AlarmRuleSpec,
  status: AlarmRuleStatus,
  printerColumns: readinessColumns,
};
