import { z } from 'zod';
import { AckAnnotationOutcome, Acknowledgement } from './acknowledgement.ts';
import { Conditions, ObservedGeneration } from './condition.ts';
import { withRules } from './cross-field-rules.ts';
import { EscalationRecord } from './escalation.ts';
import { GROUP, VERSION } from './group.ts';
import { customResource, type KindDefinition } from './resource.ts';
import { SEVERITIES, Severity } from './severity.ts';
import { stringMap } from './string-map.ts';
import { TargetKind } from './target-kind.ts';
import { Timestamp } from './timestamp.ts';

export const AlarmEventGvk = { group: GROUP, version: VERSION, kind: 'AlarmEvent' } as const;
export const ALARM_EVENT_PLURAL = 'alarmevents';

export const ALARM_EVENT_PHASES = [
  'Pending',
  'Delivering',
  'Held',
  'Delivered',
  'PartiallyDelivered',
  'Failed',
  'Suppressed',
  'NoMatchingRule',
] as const;
export const AlarmEventPhase = z.enum(ALARM_EVENT_PHASES);
export type AlarmEventPhase = z.output<typeof AlarmEventPhase>;

/** Phases after which nothing more is sent; the event's TTL counts from status.finishedAt. */
export const FINISHED_PHASES: readonly AlarmEventPhase[] = [
  'Delivered',
  'PartiallyDelivered',
  'Failed',
  'Suppressed',
  'NoMatchingRule',
];

export const DELIVERY_STATES = [
  'Pending',
  'Delivering',
  'Held',
  'Delivered',
  'Failed',
  'Suppressed',
] as const;
export const DeliveryState = z.enum(DELIVERY_STATES);
export type DeliveryState = z.output<typeof DeliveryState>;

/**
 * Characters (keys and values) of an AlarmEvent's labels and of its annotations: many times a typical
 * Alertmanager alert's, and small enough that the operator can hold thousands of events (docs/security.md).
 */
export const ALARM_EVENT_MAP_LENGTHS = { labels: 8192, annotations: 16384 } as const;

// CEL sees date-time strings as timestamps, so they compare directly.
export const AlarmEventSpec = withRules(
  z.object({
    severity: Severity.describe(`How urgent the alarm is: ${SEVERITIES.join(', ')}.`),
    title: z.string().min(1).max(256).describe('One-line summary, e.g. "Disk almost full on node-3".'),
    message: z
      .string()
      .max(16384)
      .optional()
      .describe('Details of the alarm; plain text or DingTalk markdown.'),
    labels: stringMap(64, 1024, ALARM_EVENT_MAP_LENGTHS.labels)
      .optional()
      .describe('Identifying labels (as in Alertmanager); AlarmRules match and group on them.'),
    annotations: stringMap(64, 4096, ALARM_EVENT_MAP_LENGTHS.annotations)
      .optional()
      .describe('Non-identifying details such as runbook_url or dashboard; available to message templates.'),
    source: z
      .string()
      .max(253)
      .optional()
      .describe(
        'What raised the alarm, e.g. alertmanager, grafana or a workload name; AlarmRules can match on it.',
      ),
    state: z
      .enum(['firing', 'resolved'])
      .default('firing')
      .describe('firing while the problem lasts, resolved once it is over. Default: firing.'),
    startsAt: Timestamp.optional().describe(
      'When the problem started. Omitted: when the AlarmEvent was created.',
    ),
    endsAt: Timestamp.optional().describe('When the problem ended; set with state resolved.'),
    fingerprint: z
      .string()
      .max(128)
      .regex(/^[A-Za-z0-9._:-]+$/)
      .optional()
      .describe(
        "Identity of the alarm across occurrences, e.g. Alertmanager's fingerprint: a resolved event closes the firing one with the same fingerprint, and repeats are deduplicated. Omitted: derived from labels.",
      ),
  }),
  'One alarm occurrence.',
  [
    {
      rule: '!has(self.startsAt) || !has(self.endsAt) || self.endsAt >= self.startsAt',
      message: 'endsAt must not be before startsAt',
      fieldPath: '.endsAt',
      holds: (e) => !e.startsAt || !e.endsAt || Date.parse(e.endsAt) >= Date.parse(e.startsAt),
    },
  ],
);
export type AlarmEventSpec = z.output<typeof AlarmEventSpec>;

export const MEMBER_FAILURES_KEPT = 20;
/** Flow-controlled members kept on record for a later round; more than that are recorded Throttled. */
export const MEMBER_PENDING_KEPT = 100;

export const MemberRecord = z.object({
  total: z.int().min(0).describe('Members the notification is for.'),
  delivered: z.int().min(0).describe('Members DingTalk accepted it for.'),
  failed: z.int().min(0).describe('Members who did not get it.'),
  chunksDone: z
    .int()
    .min(0)
    .describe('batchSend calls (20 members each) DingTalk answered; a retry or restart goes on after them.'),
  failures: z
    .array(
      z.object({
        member: z.string().max(128).describe('userId or mobile, as listed.'),
        reason: z
          .string()
          .max(128)
          .describe('e.g. MembersUnresolved, InvalidUserId, Throttled, Unconfirmed.'),
        errcode: z.string().max(256).optional().describe("DingTalk's code, when it gave one."),
      }),
    )
    .max(MEMBER_FAILURES_KEPT)
    .optional()
    .describe(`The first ${MEMBER_FAILURES_KEPT} members who did not get it, with why.`),
  pending: z
    .array(z.string().max(128))
    .max(MEMBER_PENDING_KEPT)
    .optional()
    .describe(
      'userIds DingTalk skipped for flow control, to be sent again in a later round; a restart goes on with them.',
    ),
  rounds: z
    .int()
    .min(0)
    .optional()
    .describe('Rounds of sending flow-controlled members again, started so far.'),
});
export type MemberRecord = z.output<typeof MemberRecord>;

export const Delivery = z.object({
  ruleNamespace: z
    .string()
    .max(63)
    .describe("The namespace of the AlarmRule that sent it (the alarm's own)."),
  rule: z.string().max(253).describe('The name of the AlarmRule that sent it.'),
  service: z.string().max(253).describe('The DingTalkService it went through.'),
  targetKind: TargetKind.describe('Group, Member or AppGroup.'),
  targetName: z
    .string()
    .max(128)
    .describe("The group's name; for members, members (or unlisted-members for names the service lacks)."),
  state: DeliveryState.describe(
    `${DELIVERY_STATES.join(', ')}. Held: DingTalk refused it for a configuration reason (errcode says which), or a service, target, Secret or ConfigMap it needs is missing or invalid (reason says which); a change of the service or of a Secret or ConfigMap it refers to sends it again.`,
  ),
  reason: z
    .string()
    .max(128)
    .optional()
    .describe('CamelCase reason for the state, e.g. Muted, Suspended, Throttled or DingTalkError.'),
  attempts: z.int().min(0).optional().describe('Sends tried so far.'),
  lastAttemptAt: Timestamp.optional().describe('When the last send was tried.'),
  nextAttemptAt: Timestamp.optional().describe('When the next retry is due.'),
  deliveredAt: Timestamp.optional().describe('When DingTalk accepted the message.'),
  repeatedAt: Timestamp.optional().describe(
    'When DingTalk last accepted a repeat of this still-firing alarm; the next repeat is due repeatInterval after it, across restarts.',
  ),
  heldSince: Timestamp.optional().describe(
    'When DingTalk first refused it for a configuration reason; held longer than --max-hold-age, it is recorded Failed.',
  ),
  lastError: z.string().max(1024).optional().describe('Error of the last failed attempt.'),
  errcode: z
    .string()
    .max(256)
    .optional()
    .describe("DingTalk's error code of the last failed attempt (webhook errcode or app API code)."),
  msgUuid: z
    .string()
    .max(128)
    .optional()
    .describe('Idempotency key sent with every attempt, so DingTalk shows a retried message once.'),
  messageId: z
    .string()
    .max(256)
    .optional()
    .describe("DingTalk's id of the sent message (processQueryKey for app robot messages)."),
  members: MemberRecord.optional().describe(
    'For members: one compact record of the whole member set, with progress per batchSend call.',
  ),
});
export type Delivery = z.output<typeof Delivery>;

export const AlarmEventStatus = z.object({
  observedGeneration: ObservedGeneration,
  phase: AlarmEventPhase.optional().describe(
    'Pending → Delivering → Delivered, PartiallyDelivered, Failed, Suppressed (every rule muted or suspended) or NoMatchingRule; Held while DingTalk refuses it for a configuration reason or what it needs is missing.',
  ),
  conditions: Conditions.optional(),
  deliveries: z
    .array(Delivery)
    .max(1000)
    .meta({
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['ruleNamespace', 'rule', 'service', 'targetKind', 'targetName'],
    })
    .optional()
    .describe('The delivery ledger: one entry per rule, service and target the alarm goes to.'),
  finishedAt: Timestamp.optional().describe(
    'When the phase became final; the event is deleted a configured time later.',
  ),
  acknowledgement: Acknowledgement.optional().describe(
    'Who acknowledged, snoozed or resolved the alarm, when and how; the latest action counts.',
  ),
  cardsShow: z
    .string()
    .max(64)
    .optional()
    .describe(
      "The acknowledgement the alarm's cards were last updated to show (its action and time): each change updates each card once, whether it came from a card or the annotation.",
    ),
  ackAnnotation: AckAnnotationOutcome.optional().describe(
    'The last acknowledgement annotation the operator handled, and what came of it.',
  ),
  escalations: z
    .array(EscalationRecord)
    .max(64)
    .meta({
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['ruleNamespace', 'rule', 'after'],
    })
    .optional()
    .describe("The escalation ledger: one entry per step of a rule's ladder taken for this alarm."),
});
export type AlarmEventStatus = z.output<typeof AlarmEventStatus>;

export const AlarmEvent = customResource(AlarmEventGvk.kind, AlarmEventSpec, AlarmEventStatus);
export type AlarmEvent = z.output<typeof AlarmEvent>;

export const alarmEventDefinition: KindDefinition = {
  ...AlarmEventGvk,
  listKind: 'AlarmEventList',
  plural: ALARM_EVENT_PLURAL,
  singular: 'alarmevent',
  shortNames: ['ae'],
  description:
    'AlarmEvent is one alarm occurrence, raised by a workload or the HTTP receiver. Its status is the delivery ledger; resolved events are deleted a TTL after they finished, firing ones are kept while they fire.',
  spec: AlarmEventSpec,
  status: AlarmEventStatus,
  printerColumns: [
    { name: 'Severity', type: 'string', jsonPath: '.spec.severity', description: 'How urgent the alarm is.' },
    { name: 'State', type: 'string', jsonPath: '.spec.state', description: 'firing or resolved.' },
    { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'Where delivery stands.' },
    {
      name: 'Ack',
      type: 'string',
      jsonPath: '.status.acknowledgement.action',
      description: 'Acknowledged, Snoozed or Resolved by someone.',
    },
    {
      name: 'By',
      type: 'string',
      jsonPath: '.status.acknowledgement.by.name',
      description: 'Who acknowledged, snoozed or resolved it.',
    },
    { name: 'Title', type: 'string', jsonPath: '.spec.title', description: 'One-line summary.', priority: 1 },
    {
      name: 'Age',
      type: 'date',
      jsonPath: '.metadata.creationTimestamp',
      description: 'Time since creation.',
    },
  ],
};
