import { z } from 'zod';
import { Conditions, ObservedGeneration } from './condition.ts';
import { withRules } from './cross-field-rules.ts';
import { GROUP, VERSION } from './group.ts';
import { GroupName, GroupTarget, MAX_POOL_ROBOTS } from './group-target.ts';
import { FREE_API_CALLS_PER_MONTH, QuotaPolicy, QuotaUsage } from './quota.ts';
import { ConfigMapKeyRef, SecretKeyRef } from './refs.ts';
import { customResource, type KindDefinition, readinessColumns } from './resource.ts';
import { TargetKind } from './target-kind.ts';
import { Timestamp } from './timestamp.ts';

export const DingTalkServiceGvk = { group: GROUP, version: VERSION, kind: 'DingTalkService' } as const;
export const DINGTALK_SERVICE_PLURAL = 'dingtalkservices';

/**
 * Setting this annotation to a new value sends a test message to every target of the service (the
 * GitOps form of a "test" button); the value acted on is kept in status.lastHandledTest.
 */
export const TEST_ANNOTATION = `${GROUP}/test`;

// A mobile number as DingTalk shows it: digits, optionally with a +country code and dashes (+86-13800000000).
const MOBILE = /^\+?[0-9]+(-[0-9]+)*$/;

export const Member = withRules(
  z.object({
    userId: z
      .string()
      .min(1)
      .max(64)
      .optional()
      .describe("The member's DingTalk userId, as in Contacts → Member management."),
    mobile: z
      .string()
      .min(5)
      .max(32)
      .regex(MOBILE)
      .optional()
      .describe(
        "The member's mobile number (e.g. 13800000000 or +86-13800000000); the operator resolves it to a userId.",
      ),
    name: z
      .string()
      .max(128)
      .optional()
      .describe('Display name, used in status and logs; never sent to DingTalk.'),
  }),
  'One person who receives one-to-one messages from the app robot; exactly one of userId or mobile.',
  [
    {
      rule: 'has(self.userId) != has(self.mobile)',
      message: 'set exactly one of userId or mobile',
      holds: (m) => (m.userId === undefined) !== (m.mobile === undefined),
    },
  ],
);
export type Member = z.output<typeof Member>;

export const AppGroup = z.object({
  name: GroupName.describe(
    'A name for the group, as AlarmRules pick it (spec.services[].groups); unique among spec.groups and spec.member.groups.',
  ),
  openConversationId: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[A-Za-z0-9+/=_-]+$/, 'must be an openConversationId such as cidAbC…==')
    .describe(
      "The group's openConversationId (cid…). The app's robot must be a member of the group: add it in the group's settings (robots), or DingTalk refuses the group's alarms, which then wait (Held) until this changes.",
    ),
});
export type AppGroup = z.output<typeof AppGroup>;

const AppGroups = withRules(
  z
    .array(AppGroup)
    .min(1)
    .max(50)
    .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] }),
  "DingTalk groups the app's robot is a member of, by openConversationId (sendTo AppGroup): alarms go there as the robot's group messages, and the first notification of an AlarmRule with spec.interactive as the card of cardTemplateId. Only the members listed here (members, membersFrom; or those the AlarmRule picks) may act on a group's card: DingTalk offers no API to read an ordinary group's members.",
  [
    {
      rule: 'self.all(g, self.exists_one(h, h.name == g.name))',
      message: 'group names must be unique',
      holds: (groups) => new Set(groups.map((g) => g.name)).size === groups.length,
    },
  ],
);

export const MemberTarget = withRules(
  z.object({
    clientId: z
      .string()
      .min(1)
      .max(128)
      .describe('Client ID (formerly AppKey) of the enterprise internal app whose robot sends the messages.'),
    clientSecret: SecretKeyRef.describe("Secret key holding the app's Client Secret (formerly AppSecret)."),
    robotCode: z
      .string()
      .min(1)
      .max(128)
      .optional()
      .describe(
        "RobotCode of the app's robot. Omitted: the clientId, which is the robotCode of an internal app's robot.",
      ),
    members: z
      .array(Member)
      .max(1000)
      .optional()
      .describe('Members listed inline, each by userId or by mobile.'),
    monthlyQuota: z
      .int()
      .min(1)
      .max(100_000_000)
      .default(FREE_API_CALLS_PER_MONTH)
      .describe(
        "API calls a month the app may make (batchSend, cards, DING; token and contact lookups are free): the organisation's API allowance (5000 on DingTalk's free edition since 2025-11-19, shared by every app of the organisation). The operator counts its own calls against it.",
      ),
    cardTemplateId: z
      .string()
      .min(1)
      .max(128)
      .optional()
      .describe(
        "ID of the interactive card template published in the app's developer console: the first notification of an AlarmRule with spec.interactive goes to the members and to groups (groups) as this card.",
      ),
    membersFrom: ConfigMapKeyRef.optional().describe(
      'ConfigMap key holding members imported from a DingTalk contacts export: CSV text whose header row names a userId and/or a mobile column (other columns, such as name, are kept for display). `dingtalk-operator import-members` writes it. Added to members.',
    ),
    groups: AppGroups.optional(),
  }),
  "Sending through an enterprise internal app's robot: to members one to one, and to groups the robot is in (groups). robotCode defaults to clientId when read by the operator.",
  [
    {
      rule: '(has(self.members) && size(self.members) > 0) || has(self.membersFrom)',
      message: 'member needs at least one of members or membersFrom',
      fieldPath: '.members',
      reason: 'FieldValueRequired',
      holds: (m) => (m.members?.length ?? 0) > 0 || m.membersFrom !== undefined,
    },
  ],
).transform((member) => ({ ...member, robotCode: member.robotCode ?? member.clientId }));
export type MemberTarget = z.output<typeof MemberTarget>;

const Groups = withRules(
  z
    .array(GroupTarget)
    .max(50)
    .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] }),
  'DingTalk groups, each reached through its custom group robot.',
  [
    {
      rule: 'self.all(g, self.exists_one(h, h.name == g.name))',
      message: 'group names must be unique',
      holds: (groups) => new Set(groups.map((g) => g.name)).size === groups.length,
    },
  ],
);

export const DingTalkServiceSpec = withRules(
  z.object({
    description: z.string().max(1024).optional().describe('Free text describing what the service is for.'),
    sendTo: z
      .array(TargetKind)
      .min(1)
      .max(3)
      .meta({ 'x-kubernetes-list-type': 'set' })
      .describe(
        "Where notifications go: Group (spec.groups, through their custom robots), Member (spec.member's members, one to one), AppGroup (spec.member.groups, through the app's robot), or several.",
      ),
    groups: Groups.optional(),
    member: MemberTarget.optional(),
    quotaPolicy: QuotaPolicy.optional(),
  }),
  'Where notifications can go, and with which credentials.',
  [
    {
      rule: "!('Group' in self.sendTo) || (has(self.groups) && size(self.groups) > 0)",
      message: 'sendTo contains Group, so groups needs at least one group',
      fieldPath: '.groups',
      reason: 'FieldValueRequired',
      holds: (s) => !s.sendTo.includes('Group') || (s.groups?.length ?? 0) > 0,
    },
    {
      rule: "!('Member' in self.sendTo) || has(self.member)",
      message: 'sendTo contains Member, so member (clientId, clientSecret and members) must be set',
      fieldPath: '.member',
      reason: 'FieldValueRequired',
      holds: (s) => !s.sendTo.includes('Member') || s.member !== undefined,
    },
    {
      rule: "!('AppGroup' in self.sendTo) || (has(self.member) && has(self.member.groups))",
      message:
        "sendTo contains AppGroup, so member.groups needs at least one group (with the app's clientId and clientSecret)",
      fieldPath: '.member.groups',
      reason: 'FieldValueRequired',
      holds: (s) => !s.sendTo.includes('AppGroup') || (s.member?.groups?.length ?? 0) > 0,
    },
    {
      rule: '!has(self.groups) || !has(self.member) || !has(self.member.groups) || self.member.groups.all(a, !self.groups.exists(g, g.name == a.name))',
      message: 'a name is used by both groups and member.groups; AlarmRules pick groups by name',
      fieldPath: '.member.groups',
      holds: (s) => !s.member?.groups?.some((a) => s.groups?.some((g) => g.name === a.name)),
    },
  ],
);
export type DingTalkServiceSpec = z.output<typeof DingTalkServiceSpec>;

const Errcode = z
  .string()
  .max(256)
  .describe(
    "DingTalk's error code: the webhook's errcode (e.g. 310000) or the app API's code (e.g. invalidParameter.robotCode.missing).",
  );
const ErrorMessage = z
  .string()
  .max(1024)
  .describe("DingTalk's error message, or the operator's when DingTalk was not reached.");

export const SendOutcome = z.object({
  time: Timestamp.describe('When the send finished.'),
  result: z
    .enum(['Succeeded', 'Failed', 'Throttled'])
    .describe('Succeeded, Failed, or Throttled by DingTalk or the rate limit.'),
  errcode: Errcode.optional(),
  message: ErrorMessage.optional(),
});
export type SendOutcome = z.output<typeof SendOutcome>;

const TargetRef = z.object({
  kind: TargetKind.describe('Group, Member or AppGroup.'),
  name: z.string().max(128).describe("The group's name, or the member's userId."),
});

const RobotName = z.string().max(63).describe('Name of the robot in spec.groups[].robots.');

export const RobotStatus = z.object({
  name: RobotName,
  ready: z
    .boolean()
    .optional()
    .describe('Whether the robot can be sent to: webhook and signature present and valid.'),
  reason: z.string().max(128).optional().describe('CamelCase reason for ready, e.g. SecretNotFound.'),
  message: z.string().max(1024).optional().describe('Details for ready.'),
  lastTest: SendOutcome.optional().describe('The last test message sent through this robot.'),
});
export type RobotStatus = z.output<typeof RobotStatus>;

export const GroupStatus = z.object({
  name: GroupName.describe('Name of the group in spec.groups.'),
  ready: z
    .boolean()
    .optional()
    .describe('Whether the group robot can be sent to: webhook and signature present and valid.'),
  reason: z
    .string()
    .max(128)
    .optional()
    .describe('CamelCase reason for ready, e.g. SecretNotFound or Throttled.'),
  message: z.string().max(1024).optional().describe('Details for ready.'),
  lastTest: SendOutcome.optional().describe('The last test message sent to this group.'),
  robots: z
    .array(RobotStatus)
    .max(MAX_POOL_ROBOTS)
    .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] })
    .optional()
    .describe(
      "Per-robot detail of a pool (spec.groups[].robots), one entry per robot; the group's ready needs all.",
    ),
});
export type GroupStatus = z.output<typeof GroupStatus>;

export const MemberStatus = z.object({
  ready: z
    .boolean()
    .optional()
    .describe('Whether the app robot can send: a token was issued and members resolved.'),
  reason: z.string().max(128).optional().describe('CamelCase reason for ready, e.g. InvalidCredentials.'),
  message: z.string().max(1024).optional().describe('Details for ready.'),
  tokenExpiresAt: Timestamp.optional().describe(
    "When the app's current access token expires; it is renewed before then.",
  ),
  resolvedMembers: z
    .int()
    .min(0)
    .optional()
    .describe('Members with a known userId (inline and from membersFrom).'),
  unknownMembers: z
    .int()
    .min(0)
    .optional()
    .describe('Members DingTalk does not know (mobile not found, userId invalid).'),
  unknownMemberNames: z
    .array(z.string().max(128))
    .max(20)
    .optional()
    .describe('The first 20 unknown members, by name, userId or mobile.'),
  lastTest: SendOutcome.optional().describe('The last test message sent to members.'),
});
export type MemberStatus = z.output<typeof MemberStatus>;

export const RobotHealth = z.object({
  name: RobotName,
  healthy: z
    .boolean()
    .describe(
      "False while alarms skip the robot: DingTalk blocked, disabled, removed or refused it; the pool's other robots take its alarm groups.",
    ),
  reason: z
    .enum(['Blocked', 'Disabled', 'Removed', 'Refused'])
    .optional()
    .describe(
      'Why the robot is skipped: Blocked (410100/130101, sending too fast: until the block ends), Disabled (400102), Removed (400106/300001), or Refused (310000: signature, keywords or IP allow-list no longer match). Disabled, Removed and Refused robots are tried again when their Secrets or the service change, and otherwise once per block period.',
    ),
  errcode: Errcode.optional(),
  message: ErrorMessage.optional(),
  since: Timestamp.optional().describe('Since when the robot is skipped.'),
  retryAt: Timestamp.optional().describe('When the robot is tried again (a block ends, or the next trial).'),
  lastDelivery: SendOutcome.optional().describe('The last alarm notification sent through this robot.'),
});
export type RobotHealth = z.output<typeof RobotHealth>;

export const GroupDelivery = z.object({
  name: GroupName.describe('Name of the group in spec.groups.'),
  throttledUntil: Timestamp.optional().describe(
    'Until when DingTalk blocks this robot for sending too fast; nothing is sent before.',
  ),
  lastDelivery: SendOutcome.optional().describe('The last alarm notification sent to this group.'),
  robots: z
    .array(RobotHealth)
    .max(MAX_POOL_ROBOTS)
    .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] })
    .optional()
    .describe(
      'Per-robot health of a pool (spec.groups[].robots): the robots alarms were sent to, or skipped.',
    ),
});
export type GroupDelivery = z.output<typeof GroupDelivery>;

export const DeliveryStatus = z.object({
  groups: z
    .array(GroupDelivery)
    .max(50)
    .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] })
    .optional()
    .describe('One entry per group of spec.groups that alarms were sent to.'),
  member: z
    .object({
      lastDelivery: SendOutcome.optional().describe('The last alarm notification sent to members.'),
    })
    .optional()
    .describe('Alarm notifications to members.'),
  appGroups: z
    .array(
      z.object({
        name: GroupName.describe('Name of the group in spec.member.groups.'),
        lastDelivery: SendOutcome.optional().describe(
          "The last alarm notification (card or message) sent to this group through the app's robot.",
        ),
      }),
    )
    .max(50)
    .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] })
    .optional()
    .describe('One entry per group of spec.member.groups that alarms were sent to.'),
});
export type DeliveryStatus = z.output<typeof DeliveryStatus>;

const Counter = z.int().min(0);

export const DeliveryCounters = z.object({
  sent: Counter.optional().describe('Messages DingTalk accepted.'),
  throttled: Counter.optional().describe('Sends DingTalk or the rate limit held back to retry later.'),
  failed: Counter.optional().describe('Messages given up on after retries.'),
  suppressed: Counter.optional().describe(
    'Notifications not sent on purpose: muted, suspended or grouped into a digest.',
  ),
});
export type DeliveryCounters = z.output<typeof DeliveryCounters>;

/**
 * One writer per field. The DingTalkService controller writes observedGeneration, conditions, groups,
 * member, lastTest and lastHandledTest (validation and test sends), by merge patch of what it changed.
 * Dispatch writes delivery, deliveries, lastSuccess and lastFailure (how alarms fared), by server-side
 * apply under its own field manager. The quota ledger writes usage, by server-side apply under a field
 * manager of its own. No field, and no list, is written by two of them.
 */
export const DingTalkServiceStatus = z.object({
  observedGeneration: ObservedGeneration,
  conditions: Conditions.optional(),
  groups: z
    .array(GroupStatus)
    .max(50)
    .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] })
    .optional()
    .describe('Per-group detail, one entry per spec.groups entry.'),
  member: MemberStatus.optional().describe('Detail of the member (app robot) side.'),
  delivery: DeliveryStatus.optional().describe(
    'How alarm notifications fared, per target; written by dispatch only.',
  ),
  deliveries: DeliveryCounters.optional().describe(
    'Counters since the service was created, over all targets.',
  ),
  lastSuccess: z
    .object({
      time: Timestamp.describe('When DingTalk accepted the message.'),
      target: TargetRef.describe('Where it went.'),
    })
    .optional()
    .describe('The last message DingTalk accepted.'),
  lastFailure: z
    .object({
      time: Timestamp.describe('When the send failed.'),
      target: TargetRef.describe('Where it was going.'),
      errcode: Errcode.optional(),
      message: ErrorMessage.optional(),
    })
    .optional()
    .describe('The last failed send.'),
  lastTest: SendOutcome.optional().describe('The last test message, to any target.'),
  usage: QuotaUsage.optional(),
  lastHandledTest: z
    .string()
    .max(128)
    .optional()
    .describe(
      `The ${GROUP}/test annotation value the last test message was sent for (values over 64 characters are kept as a sha256 digest). Setting the annotation to any other value sends another test; the same value never sends twice.`,
    ),
});
export type DingTalkServiceStatus = z.output<typeof DingTalkServiceStatus>;

export const DingTalkService = customResource(
  DingTalkServiceGvk.kind,
  DingTalkServiceSpec,
  DingTalkServiceStatus,
);
export type DingTalkService = z.output<typeof DingTalkService>;

export const dingTalkServiceDefinition: KindDefinition = {
  ...DingTalkServiceGvk,
  listKind: 'DingTalkServiceList',
  plural: DINGTALK_SERVICE_PLURAL,
  singular: 'dingtalkservice',
  shortNames: ['dts'],
  description:
    'DingTalkService says where notifications can go (DingTalk groups through their custom robots, members through an app robot) and with which credentials. AlarmRules send to it.',
  spec: DingTalkServiceSpec,
  status: DingTalkServiceStatus,
  printerColumns: readinessColumns,
};
