import { z } from 'zod';
import { withRules } from './cross-field-rules.ts';
import { stringMap } from './string-map.ts';

const LabelKey = z.string().min(1).max(317);
const LabelValue = z.string().max(1024);

const LabelSelectorRequirement = withRules(
  z.object({
    key: LabelKey.describe('The label key the requirement applies to.'),
    operator: z
      .enum(['In', 'NotIn', 'Exists', 'DoesNotExist'])
      .describe("How the key's value relates to values: In, NotIn, Exists or DoesNotExist."),
    values: z
      .array(LabelValue)
      .max(64)
      .optional()
      .describe('Values for In and NotIn (at least one); must be empty for Exists and DoesNotExist.'),
  }),
  'A label requirement, as in metav1.LabelSelectorRequirement.',
  [
    {
      rule: "self.operator in ['In', 'NotIn'] ? has(self.values) && size(self.values) > 0 : !has(self.values) || size(self.values) == 0",
      message: 'values must be non-empty for In and NotIn, and empty for Exists and DoesNotExist',
      fieldPath: '.values',
      holds: (r) => ['In', 'NotIn'].includes(r.operator) === (r.values ?? []).length > 0,
    },
  ],
);

/** The shape of metav1.LabelSelector: every given requirement must hold (AND). */
export const LabelSelector = z.object({
  matchLabels: stringMap(64, 1024)
    .optional()
    .describe('Labels that must all be present with exactly these values.'),
  matchExpressions: z
    .array(LabelSelectorRequirement)
    .max(32)
    .optional()
    .describe('Requirements that must all hold.'),
});
export type LabelSelector = z.output<typeof LabelSelector>;
