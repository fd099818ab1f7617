import { z } from 'zod';
import { withRules } from './cross-field-rules.ts';
import { Duration } from './duration.ts';
import { ServiceRef } from './service-ref.ts';
import { Timestamp } from './timestamp.ts';

/**
 * An escalation ladder: while an alarm stays unacknowledged, each step notifies more people a set time
 * after the first notification. Steps are known by their `after`, so reordering or inserting steps
 * mid-incident neither repeats nor forgets one already taken.
 */
export const REMIND_TYPES = ['App', 'SMS', 'Call'] as const;

export const EscalationStep = withRules(
  z.object({
    after: Duration.describe(
      "How long after the alarm's first notification (as its ledger records it) the step is taken, e.g. 5m; unique within the ladder.",
    ),
    to: ServiceRef.describe(
      'Who the step notifies: a DingTalkService of the same namespace and which of its targets, e.g. its on-call members or another group.',
    ),
    via: z
      .enum(['Message', 'Ding'])
      .default('Message')
      .describe(
        "Message: the alarm's message to every target of `to`. Ding: an urgent reminder (DING) from the service's app robot to its members in `to`. Default: Message.",
      ),
    remindType: z
      .enum(REMIND_TYPES)
      .optional()
      .describe(
        'For Ding: App (in DingTalk), SMS or Call (where the organisation has the quota). Default: App.',
      ),
  }),
  'One step of the ladder: when, who, and how.',
  [
    {
      rule: "self.via == 'Ding' || !has(self.remindType)",
      message: 'remindType is for via Ding',
      fieldPath: '.remindType',
      holds: (s) => s.via === 'Ding' || s.remindType === undefined,
    },
    {
      rule: "self.via != 'Ding' || !has(self.to.groups)",
      message: "a Ding reaches the service's members; to.groups is for Message steps",
      fieldPath: '.to.groups',
      holds: (s) => s.via !== 'Ding' || s.to.groups === undefined,
    },
  ],
);
export type EscalationStep = z.output<typeof EscalationStep>;

export const MAX_ESCALATION_STEPS = 8;

export const Escalation = withRules(
  z
    .array(EscalationStep)
    .min(1)
    .max(MAX_ESCALATION_STEPS)
    .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['after'] }),
  'Steps taken while a firing alarm is neither acknowledged nor resolved (a snooze defers them); mute windows and suspend record a step Suppressed instead of sending it.',
  [
    {
      rule: 'self.all(s, self.exists_one(t, t.after == s.after))',
      message: 'each after may be listed once',
      holds: (steps) => new Set(steps.map((s) => s.after)).size === steps.length,
    },
  ],
);
export type Escalation = z.output<typeof Escalation>;

export const ESCALATION_STATES = ['Delivering', 'Delivered', 'Failed', 'Suppressed'] as const;

/** One step taken for one rule: the escalation ledger entry, written before the step's message goes out. */
export const EscalationRecord = z.object({
  ruleNamespace: z.string().max(63).describe("The namespace of the AlarmRule (the alarm's own)."),
  rule: z.string().max(253).describe('The AlarmRule whose ladder the step is on.'),
  after: Duration.describe('The step, by its after.'),
  service: z.string().max(253).describe('The DingTalkService the step notified.'),
  state: z
    .enum(ESCALATION_STATES)
    .describe(
      'Delivering (on record before sending; a restart sends it again under msgUuid), Delivered, Failed or Suppressed.',
    ),
  reason: z.string().max(128).optional().describe('CamelCase reason, e.g. Muted, Suspended, DingTalkError.'),
  takenAt: Timestamp.describe('When the step was taken.'),
  deliveredAt: Timestamp.optional().describe('When DingTalk accepted every message of the step.'),
  msgUuid: z
    .string()
    .max(128)
    .optional()
    .describe('Idempotency key of its messages, so a retried step is shown once.'),
  lastError: z.string().max(1024).optional().describe('Error of the last failed attempt.'),
});
export type EscalationRecord = z.output<typeof EscalationRecord>;
