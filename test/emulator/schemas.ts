import { z } from 'zod';

/** Shapes of the emulator's control API, shared by the server and the typed control client. */

export const robotSpecSchema = z.object({
  /** The group's name, as shown on the page. */
  name: z.string().min(1).default('group'),
  /** 加签 secret (`SEC…`); when set, every send must be signed. */
  secret: z.string().min(1).optional(),
  keywords: z.array(z.string().min(1)).max(10).default([]),
  /** IPv4 addresses or CIDR ranges; empty means any source. */
  ipAllowList: z.array(z.string().min(1)).default([]),
  /** Calls a month (China Standard Time) before the robot answers 90030 "webhook over limit". */
  monthlyLimit: z.number().int().positive().optional(),
});
export type RobotSpec = z.input<typeof robotSpecSchema>;

export const appSpecSchema = z.object({
  clientSecret: z.string().min(1),
  /** Defaults to the clientId, as for enterprise internal apps. */
  robotCode: z.string().min(1).optional(),
  /** Users batchSend reports in flowControlledStaffIdList instead of messaging. */
  flowControlledUserIds: z.array(z.string()).default([]),
  /** API calls (batchSend, cards, DING) a month (China Standard Time) before the 403 ApiCountLimitForOrg answer. */
  monthlyLimit: z.number().int().positive().optional(),
  /** The org has bought SMS and phone DING: remindType 2 and 3 are accepted. */
  dingCallQuota: z.boolean().default(false),
});
export type AppSpec = z.input<typeof appSpecSchema>;

export const userSpecSchema = z.object({ name: z.string().min(1), mobile: z.string().min(1).optional() });
export type UserSpec = z.input<typeof userSpecSchema>;

/** A group reached by openConversationId: which apps' robots and which users are in it. */
export const appGroupSpecSchema = z.object({
  name: z.string().min(1).default('group'),
  /** robotCodes of the app robots added to the group; only they may send cards and messages there. */
  robotCodes: z.array(z.string().min(1)).default([]),
  /** userIds of the group's members: the page lets them, and only them, click its cards. */
  members: z.array(z.string().min(1)).default([]),
});
export type AppGroupSpec = z.input<typeof appGroupSpecSchema>;

const faultLimit = { times: z.number().int().positive().optional() };
export const faultSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('latency'), ms: z.number().int().nonnegative(), ...faultLimit }),
  z.object({ kind: z.literal('status'), status: z.number().int().min(500).max(599), ...faultLimit }),
  z.object({ kind: z.literal('reset'), ...faultLimit }),
  z.object({ kind: z.literal('hang'), ...faultLimit }),
  z.object({ kind: z.literal('throttle'), ...faultLimit }),
  /** The answer of each API family when the month's quota is spent (90030, 90020, ApiCountLimitForOrg). */
  z.object({ kind: z.literal('quotaExhausted'), ...faultLimit }),
  /** HTTP 200 with this errcode, as DingTalk answers a robot it disabled (400102) or removed (400106). */
  z.object({
    kind: z.literal('errcode'),
    errcode: z.number().int().positive(),
    errmsg: z.string().default('refused'),
    ...faultLimit,
  }),
  /** 200 and a body that never ends: one more byte every intervalMs. */
  z.object({
    kind: z.literal('trickle'),
    intervalMs: z.number().int().positive().default(500),
    ...faultLimit,
  }),
  /** 200 and a body of `bytes` bytes. */
  z.object({ kind: z.literal('oversize'), bytes: z.number().int().positive(), ...faultLimit }),
]);
export type Fault = z.input<typeof faultSchema>;

export const faultTargetSchema = z.union([
  z.object({ robot: z.string().min(1) }),
  z.object({ app: z.string().min(1) }),
]);
export type FaultTarget = z.input<typeof faultTargetSchema>;

export const setFaultSchema = z.object({ target: faultTargetSchema, fault: faultSchema });

export const advanceClockSchema = z.object({ ms: z.number().int().nonnegative() });

export const mentionsSchema = z.object({
  atMobiles: z.array(z.string()),
  atUserIds: z.array(z.string()),
  isAtAll: z.boolean(),
  /** Mentioned mobiles/userIds whose `@…` also appears in the text: the ones DingTalk would notify. */
  notified: z.array(z.string()),
});

export const recordedMessageSchema = z.object({
  id: z.number().int(),
  receivedAt: z.number(),
  to: z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('group'), robot: z.string(), name: z.string() }),
    z.object({ kind: z.literal('member'), userId: z.string(), robotCode: z.string() }),
    z.object({ kind: z.literal('appGroup'), openConversationId: z.string(), robotCode: z.string() }),
  ]),
  /** msgtype for group robots, msgKey for app robots. */
  type: z.string(),
  title: z.string().optional(),
  /** The text a reader sees (content, markdown text, card text or joined titles). */
  text: z.string(),
  /** The message object as received (group) or the decoded msgParam (member). */
  body: z.record(z.string(), z.unknown()),
  msgUuid: z.string().optional(),
  mentions: mentionsSchema.optional(),
});
export type RecordedMessage = z.output<typeof recordedMessageSchema>;

export const messageFilterSchema = z.object({
  robot: z.string().optional(),
  userId: z.string().optional(),
  openConversationId: z.string().optional(),
});
export type MessageFilter = z.input<typeof messageFilterSchema>;

/** A card's data: DingTalk takes string values only. */
export const cardParamMapSchema = z.record(z.string(), z.string());

export const recordedCardSchema = z.object({
  outTrackId: z.string(),
  clientId: z.string(),
  cardTemplateId: z.string(),
  callbackType: z.string(),
  /** Where it was delivered: `IM_GROUP.<openConversationId>` or `IM_ROBOT.<userId>`. */
  spaces: z.array(z.string()),
  /** The data the card shows now. */
  cardParamMap: cardParamMapSchema,
  /** Every version of the data, the create first, with what changed it. */
  history: z.array(
    z.object({
      at: z.number(),
      by: z.enum(['create', 'update', 'callback']),
      cardParamMap: cardParamMapSchema,
    }),
  ),
});
export type RecordedCard = z.output<typeof recordedCardSchema>;

export const recordedDingSchema = z.object({
  openDingId: z.string(),
  clientId: z.string(),
  robotCode: z.string(),
  receiverUserIds: z.array(z.string()),
  /** 1 in-app, 2 SMS, 3 phone. */
  remindType: z.number(),
  content: z.string(),
  sentAt: z.number(),
});
export type RecordedDing = z.output<typeof recordedDingSchema>;

/** A card's buttons as the page shows them: what the template defines in real DingTalk. */
export const cardTemplateSpecSchema = z.object({
  buttons: z
    .array(
      z.object({
        label: z.string().min(1),
        actionId: z.string().min(1),
        params: z.record(z.string(), z.unknown()).default({}),
      }),
    )
    .default([]),
});
export type CardTemplateSpec = z.input<typeof cardTemplateSpecSchema>;

export const statsSchema = z.object({
  /** Calls to the token endpoint per appKey, valid or not. */
  tokenRequests: z.record(z.string(), z.number()),
  /** batchSend calls per app clientId. */
  batchSendCalls: z.record(z.string(), z.number()),
  /** groupMessages/send calls (the app robot's group messages) per app clientId. */
  groupSendCalls: z.record(z.string(), z.number()),
  /** /robot/send calls per robot token, whatever the answer. */
  robotSends: z.record(z.string(), z.number()),
  /** Sends answered ok but not shown because their msgUuid was seen before. */
  duplicatesSuppressed: z.number(),
  /** Messages shown to a group although an identical one was already shown (a retry without msgUuid). */
  shownDuplicates: z.number(),
  /** Card creates and updates per app clientId: each is one call against the org's monthly quota. */
  cardCalls: z.record(z.string(), z.number()),
  /** connections/open calls per clientId, valid or not. */
  streamOpens: z.record(z.string(), z.number()),
  /** Card callbacks by outcome: answered in time, answered late (a failure for DingTalk), never answered. */
  callbacks: z.object({ answered: z.number(), late: z.number(), unanswered: z.number() }),
});
export type Stats = z.output<typeof statsSchema>;
