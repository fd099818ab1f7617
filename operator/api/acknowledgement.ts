import { z } from 'zod';
import { withRules } from './cross-field-rules.ts';
import { Duration } from './duration.ts';
import { GROUP } from './group.ts';
import { Timestamp } from './timestamp.ts';

/**
 * Closing the loop: what a rule lets people do about its alarms (acknowledge, snooze, resolve) and what
 * an AlarmEvent records of it. A card's buttons (DingTalk) and the annotations below (kubectl) both end
 * in status.acknowledgement.
 */

export const ACK_ACTIONS = ['Acknowledge', 'Snooze', 'Resolve'] as const;
export const AckAction = z.enum(ACK_ACTIONS);
export type AckAction = z.output<typeof AckAction>;

/** Snoozing without listed durations offers one hour, the common "静默 1h". */
export const DEFAULT_SNOOZE_DURATIONS = ['1h'] as const;

/** `kubectl annotate ae X dingtalk.alarming.io/ack=acknowledge` (or `snooze=30m`, `resolve`). */
export const ACK_ANNOTATION = `${GROUP}/ack`;
/** Optional: the DingTalk userId of who acknowledges through the annotation, shown in status. */
export const ACK_BY_ANNOTATION = `${GROUP}/ack-by`;

export const Interactive = withRules(
  z.object({
    actions: z
      .array(AckAction)
      .min(1)
      .max(ACK_ACTIONS.length)
      .meta({ 'x-kubernetes-list-type': 'set' })
      .default([...ACK_ACTIONS])
      .describe(
        `What people may do about the rule's alarms, from a card's buttons or the ${ACK_ANNOTATION} annotation: Acknowledge (repeats and escalation stop), Snooze (repeats and escalation pause for a duration) and Resolve (the alarm counts as resolved; the resolved message follows sendResolved). Default: all three.`,
      ),
    snoozeDurations: z
      .array(Duration)
      .min(1)
      .max(5)
      .meta({ 'x-kubernetes-list-type': 'set' })
      .optional()
      .describe(
        `How long Snooze pauses, one button each, e.g. [30m, 2h]. The annotation may ask for any duration up to the longest. Omitted: ${DEFAULT_SNOOZE_DURATIONS.join(', ')}.`,
      ),
  }),
  "Lets people acknowledge, snooze or resolve the rule's alarms; targets that can show cards get buttons.",
  [
    {
      rule: "!has(self.snoozeDurations) || 'Snooze' in self.actions",
      message: 'snoozeDurations are listed but actions does not offer Snooze',
      fieldPath: '.snoozeDurations',
      holds: (i) => i.snoozeDurations === undefined || i.actions.includes('Snooze'),
    },
  ],
);
export type Interactive = z.output<typeof Interactive>;

export const ACKNOWLEDGEMENT_STATES = ['Acknowledged', 'Snoozed', 'Resolved'] as const;
export type AcknowledgementState = (typeof ACKNOWLEDGEMENT_STATES)[number];

export const Acknowledgement = z.object({
  action: z
    .enum(ACKNOWLEDGEMENT_STATES)
    .describe(
      'Acknowledged: someone is on it, repeats and escalation stop. Snoozed: they pause until `until`. Resolved: the alarm counts as resolved.',
    ),
  by: z
    .object({
      userId: z.string().max(64).optional().describe('DingTalk userId of who acted.'),
      name: z
        .string()
        .max(128)
        .optional()
        .describe("Their name from the services' member lists, when listed there."),
    })
    .optional()
    .describe(`Who acted; omitted for an annotation without ${ACK_BY_ANNOTATION}.`),
  at: Timestamp.describe('When it was recorded.'),
  until: Timestamp.optional().describe('Snoozed: when repeats and escalation go on again.'),
  via: z.enum(['Card', 'Annotation']).describe(`Card (a DingTalk button) or Annotation (${ACK_ANNOTATION}).`),
  unverified: z
    .string()
    .max(256)
    .optional()
    .describe('What could not be checked of who acted, e.g. membership of a group the card went to.'),
});
export type Acknowledgement = z.output<typeof Acknowledgement>;

export const AckAnnotationOutcome = z.object({
  value: z
    .string()
    .max(256)
    .describe(
      `The ${ACK_ANNOTATION} value handled (with " by <userId>" from ${ACK_BY_ANNOTATION}); the same value is never handled twice. Remove the annotation to use a value again.`,
    ),
  result: z
    .enum(['Recorded', 'Unchanged', 'Refused'])
    .describe('Recorded in acknowledgement, Unchanged (already so), or Refused (reason says why).'),
  reason: z
    .string()
    .max(128)
    .optional()
    .describe('Refused: e.g. InvalidAnnotation, ActionNotOffered, AlreadyResolved.'),
  message: z.string().max(1024).optional().describe('Details, naming the annotation or field at fault.'),
});
export type AckAnnotationOutcome = z.output<typeof AckAnnotationOutcome>;
