import { z } from 'zod';
import { withRules } from './cross-field-rules.ts';
import { Timestamp } from './timestamp.ts';

/** The free edition's monthly allowances since 2025-11-19: Webhook&Stream calls, and API calls. */
export const FREE_WEBHOOK_CALLS_PER_MONTH = 3_000;
export const FREE_API_CALLS_PER_MONTH = 5_000;

const Percent = z.int().min(1).max(100);

/**
 * What gives way first as a month's DingTalk calls run short, in this order: digests widen, info
 * alarms are no longer sent, resolved notifications are skipped, and the last calls are kept for
 * critical alarms. Each step applies per target (robot or app) once its share of the month's quota
 * is used; alarms it holds back are recorded Suppressed with reason QuotaPolicy.
 */
export const QuotaPolicy = withRules(
  z.object({
    widenDigestsAt: Percent.default(50).describe(
      "Percent of the month's quota used from which the rules' groupInterval is multiplied by digestIntervalFactor, so more alarms share each message.",
    ),
    digestIntervalFactor: z
      .int()
      .min(1)
      .max(60)
      .default(4)
      .describe('How many times longer groupInterval is once widenDigestsAt is reached.'),
    holdInfoAt: Percent.default(70).describe(
      "Percent of the month's quota used from which info alarms are not sent (recorded Suppressed, reason QuotaPolicy).",
    ),
    skipResolvedAt: Percent.default(85).describe(
      "Percent of the month's quota used from which resolved notifications are not sent (recorded Suppressed, reason QuotaPolicy).",
    ),
    criticalReserve: z
      .int()
      .min(0)
      .max(100_000_000)
      .default(100)
      .describe(
        'Calls kept for critical alarms: once no more than these are left of the month, only critical alarms are sent.',
      ),
  }),
  'How delivery degrades as the monthly DingTalk quota runs short; without it, nothing is held back before DingTalk refuses.',
  [
    {
      rule: 'self.widenDigestsAt <= self.holdInfoAt && self.holdInfoAt <= self.skipResolvedAt',
      message: 'the steps go in order: widenDigestsAt <= holdInfoAt <= skipResolvedAt',
      holds: (p) => p.widenDigestsAt <= p.holdInfoAt && p.holdInfoAt <= p.skipResolvedAt,
    },
  ],
);
export type QuotaPolicy = z.output<typeof QuotaPolicy>;

const BucketUsageFields = {
  month: z
    .string()
    .regex(/^\d{4}-\d{2}$/)
    .describe(
      "The month counted (YYYY-MM), in the operator's --quota-time-zone (DingTalk's: Asia/Shanghai).",
    ),
  calls: z.int().min(0).describe('Calls this service made this month that DingTalk counts.'),
  limit: z.int().min(1).describe('The monthly quota counted against (monthlyQuota of the target).'),
  projectedExhaustion: Timestamp.optional().describe(
    "When the quota runs out at this month's rate so far; only when that is before the month ends.",
  ),
  exhaustedAt: Timestamp.optional().describe(
    'When DingTalk last answered that the quota is spent, this month; alarms are held until the month turns or monthlyQuota changes.',
  ),
};

export const BucketUsage = z.object(BucketUsageFields);
export type BucketUsage = z.output<typeof BucketUsage>;

export const QuotaUsage = z
  .object({
    groups: z
      .array(
        z.object({
          name: z.string().min(1).max(128).describe('Name of the group in spec.groups.'),
          ...BucketUsageFields,
        }),
      )
      .max(50)
      .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] })
      .optional()
      .describe("Webhook calls per group robot (DingTalk's Webhook&Stream quota)."),
    app: BucketUsage.optional().describe("API calls of the member app (DingTalk's API quota)."),
  })
  .describe(
    "The month's DingTalk calls by quota bucket, counted by the operator; written by the quota ledger only. Counts of other senders sharing a robot, an app or the organisation are not included.",
  );
export type QuotaUsage = z.output<typeof QuotaUsage>;
