import { z } from 'zod';
import { Timestamp } from './timestamp.ts';

/**
 * Condition types specific to these kinds; each explains part of Ready. The kstatus types (Ready,
 * Reconciling, Stalled) and generic reasons live with the condition helpers in operator/runtime.
 */
export const DingTalkConditionType = {
  /** DingTalkService: every referenced Secret exists and DingTalk accepted the credentials. */
  CredentialsValid: 'CredentialsValid',
  /** DingTalkService: every member resolved to a DingTalk userId. */
  MembersResolved: 'MembersResolved',
  /** AlarmRule: every referenced DingTalkService and target exists. */
  ServicesResolved: 'ServicesResolved',
  /** AlarmRule: every message template parses. */
  TemplatesValid: 'TemplatesValid',
  /** AlarmEvent: every matching target has the notification. */
  Delivered: 'Delivered',
  /** DingTalkService with a card template: this leader's Stream connection for card clicks is open. */
  StreamConnected: 'StreamConnected',
  /** DingTalkService: at this month's rate a target's monthly quota runs out before the month ends. */
  QuotaAtRisk: 'QuotaAtRisk',
  /** DingTalkService: a target's monthly quota is spent (counted, or DingTalk said so); its alarms are held. */
  QuotaExhausted: 'QuotaExhausted',
} as const;
export type DingTalkConditionType = (typeof DingTalkConditionType)[keyof typeof DingTalkConditionType];

/** Reasons (CamelCase, as metav1.Condition requires) for conditions and delivery records of these kinds. */
export const DingTalkConditionReason = {
  InvalidSpec: 'InvalidSpec',
  SecretNotFound: 'SecretNotFound',
  /** The operator may not read the service's Secrets or ConfigMaps in its namespace (per-namespace access). */
  SecretAccessDenied: 'SecretAccessDenied',
  SecretKeyNotFound: 'SecretKeyNotFound',
  ConfigMapNotFound: 'ConfigMapNotFound',
  ConfigMapKeyNotFound: 'ConfigMapKeyNotFound',
  InvalidWebhook: 'InvalidWebhook',
  WebhookHostNotAllowed: 'WebhookHostNotAllowed',
  /** DingTalk refused the app's ClientId/ClientSecret. */
  InvalidCredentials: 'InvalidCredentials',
  /** DingTalk could not be reached, timed out, or answered with a server error; retried with backoff. */
  Unreachable: 'Unreachable',
  /** A group's signature secret is not a 加签 secret (those start with SEC). */
  InvalidSignatureSecret: 'InvalidSignatureSecret',
  /** A group's keywords contain a blank or repeated entry. */
  InvalidKeywords: 'InvalidKeywords',
  /** Every credential and target checked out. */
  Validated: 'Validated',
  /** Every member resolved to a DingTalk userId. */
  MembersResolved: 'MembersResolved',
  MembersUnresolved: 'MembersUnresolved',
  ServiceNotFound: 'ServiceNotFound',
  ServiceNotReady: 'ServiceNotReady',
  TargetNotFound: 'TargetNotFound',
  TemplateInvalid: 'TemplateInvalid',
  /** A template exceeds its per-render budget of work or time on a sample alarm. */
  TemplateTooExpensive: 'TemplateTooExpensive',
  Suspended: 'Suspended',
  Muted: 'Muted',
  OutsideActiveWindow: 'OutsideActiveWindow',
  Throttled: 'Throttled',
  DingTalkError: 'DingTalkError',
  Delivered: 'Delivered',
  PartiallyDelivered: 'PartiallyDelivered',
  DeliveryFailed: 'DeliveryFailed',
  Suppressed: 'Suppressed',
  NoMatchingRule: 'NoMatchingRule',
  /** DingTalk refused a send for a reason only a configuration change cures; the alarm waits for it. */
  Held: 'Held',
  /** DingTalk answered that the month's quota is spent: held until the month turns or the quota is raised. */
  QuotaExhausted: 'QuotaExhausted',
  /** A target's projection runs out before the month ends. */
  QuotaAtRisk: 'QuotaAtRisk',
  /** Back within the month's quota. */
  WithinQuota: 'WithinQuota',
  /** Not sent by the service's quotaPolicy as the month's quota runs short. */
  QuotaPolicy: 'QuotaPolicy',
  /** Held longer than --max-hold-age. */
  HeldTooLong: 'HeldTooLong',
  RuleDeleted: 'RuleDeleted',
  /** The rule no longer plans the target (the rule or its service was edited) before the alarm went to it. */
  TargetRemoved: 'TargetRemoved',
  /** The rule was edited and no longer matches the alarm before it was sent. */
  NoLongerMatched: 'NoLongerMatched',
  /** Acknowledgement refusals (AlarmEvent status.ackAnnotation, Events). */
  InvalidAnnotation: 'InvalidAnnotation',
  ActionNotOffered: 'ActionNotOffered',
  InvalidSnooze: 'InvalidSnooze',
  AlreadyResolved: 'AlreadyResolved',
  NotAMember: 'NotAMember',
  UnknownEvent: 'UnknownEvent',
  /** StreamConnected: open, opening for the first time, or lost and reconnecting. */
  StreamOpen: 'StreamOpen',
  StreamConnecting: 'StreamConnecting',
  StreamLost: 'StreamLost',
} as const;
export type DingTalkConditionReason = (typeof DingTalkConditionReason)[keyof typeof DingTalkConditionReason];

// The validation of metav1.Condition, so status written by the operator is what kubectl and kstatus expect.
const QUALIFIED_NAME =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$/;
const REASON = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/;

/** A status's observedGeneration: which spec the status describes (kstatus reads it). */
export const ObservedGeneration = z
  .int()
  .min(0)
  .optional()
  .describe('The .metadata.generation this status was computed from.');

export const Condition = z.object({
  type: z.string().max(316).regex(QUALIFIED_NAME).describe('Type of condition in CamelCase, e.g. Ready.'),
  status: z.enum(['True', 'False', 'Unknown']).describe('Status of the condition: True, False or Unknown.'),
  observedGeneration: z
    .int()
    .min(0)
    .optional()
    .describe('The .metadata.generation the condition was set from.'),
  lastTransitionTime: Timestamp.describe('When the condition last changed from one status to another.'),
  reason: z
    .string()
    .min(1)
    .max(1024)
    .regex(REASON)
    .describe("Programmatic CamelCase identifier of the condition's last transition."),
  message: z.string().max(32768).describe('Human-readable details about the transition; may be empty.'),
});
export type Condition = z.output<typeof Condition>;

export const Conditions = z
  .array(Condition)
  .max(16)
  .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] })
  .describe(
    'Current state of the object, one entry per condition type (metav1.Condition). Ready summarises the others.',
  );
