import { z } from 'zod';
import { withRules } from './cross-field-rules.ts';
import { FREE_WEBHOOK_CALLS_PER_MONTH } from './quota.ts';
import { SecretKeyRef } from './refs.ts';

/** A DingTalkService's group: reached through one custom robot, or through a pool of robots added to it. */

/** DingTalk allows 20 messages a minute per group robot and blocks the robot for 10 minutes beyond that. */
export const MAX_ROBOT_MESSAGES_PER_MINUTE = 20;

export const GroupName = z.string().min(1).max(128);

const Webhook = SecretKeyRef.describe(
  "Secret key holding the group robot's webhook: the whole URL (https://oapi.dingtalk.com/robot/send?access_token=…) or just the access_token after `access_token=`. The access_token is the robot's credential.",
);
const Signature = SecretKeyRef.describe(
  "Secret key holding the robot's additional-signature secret (加签, the value starting with SEC). Set it only when the robot has signing enabled; every message is then signed with it.",
);
const Keywords = z
  .array(z.string().min(1).max(64))
  .max(10)
  .describe(
    "The robot's custom keywords (自定义关键词), as set in DingTalk. DingTalk rejects a message containing none of them, so the operator adds the first keyword to messages that lack all of them.",
  );

/** Robots one group may pool. */
export const MAX_POOL_ROBOTS = 10;

export const PoolRobot = z.object({
  name: z
    .string()
    .min(1)
    .max(63)
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/)
    .describe(
      'A name for the robot, unique within the group (lowercase letters, digits and dashes); status reports the robot under it, never under its webhook.',
    ),
  webhook: Webhook,
  signature: Signature.optional(),
  keywords: Keywords.optional(),
});
export type PoolRobot = z.output<typeof PoolRobot>;

const PoolRobots = withRules(
  z
    .array(PoolRobot)
    .min(1)
    .max(MAX_POOL_ROBOTS)
    .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] }),
  "Several robots added to the same DingTalk group (a pool), each with its own webhook, signature secret and keywords: their per-minute budgets add up, an alarm group's messages stay on one robot so their order is kept, and a robot DingTalk blocks, disables, removes or refuses is skipped until it recovers. Instead of webhook.",
  [
    {
      rule: 'self.all(r, self.exists_one(s, s.name == r.name))',
      message: 'robot names must be unique within the group',
      holds: (robots) => new Set(robots.map((r) => r.name)).size === robots.length,
    },
  ],
);

export const GroupTarget = withRules(
  z.object({
    name: GroupName.describe(
      "The group's name, exactly as it is shown in DingTalk. AlarmRules pick groups by this name; unique within the service.",
    ),
    webhook: Webhook.optional(),
    signature: Signature.optional(),
    keywords: Keywords.optional(),
    robots: PoolRobots.optional(),
    rateLimitPerMinute: z
      .int()
      .min(1)
      .max(MAX_ROBOT_MESSAGES_PER_MINUTE)
      .default(MAX_ROBOT_MESSAGES_PER_MINUTE)
      .describe(
        'Messages per minute the operator sends to each robot of this group for this namespace; alarms beyond it are grouped into digests, never dropped. It bounds this namespace only: all namespaces sending through one robot share the operator-wide limit (--robot-rate-limit). DingTalk blocks a robot for 10 minutes above 20 a minute, so 20 is both the default and the maximum.',
      ),
    monthlyQuota: z
      .int()
      .min(1)
      .max(100_000_000)
      .default(FREE_WEBHOOK_CALLS_PER_MONTH)
      .describe(
        "Webhook calls a month this group's robots may make together: the organisation's Webhook&Stream allowance (3000 on DingTalk's free edition since 2025-11-19, shared by every robot and Stream client of the organisation), or the administrator's caps on its robots if lower (for a pool, their sum). The operator counts its own calls against it; it cannot see other senders'.",
      ),
  }),
  'A DingTalk group, reached through its custom group robot (webhook, signature, keywords) or through a pool of robots added to it (robots).',
  [
    {
      rule: 'has(self.webhook) != has(self.robots)',
      message: 'set exactly one of webhook or robots',
      holds: (g) => (g.webhook === undefined) !== (g.robots === undefined),
    },
    {
      rule: '!has(self.robots) || (!has(self.signature) && !has(self.keywords))',
      message: 'with robots, set signature and keywords on each robot',
      fieldPath: '.robots',
      reason: 'FieldValueForbidden',
      holds: (g) => g.robots === undefined || (g.signature === undefined && g.keywords === undefined),
    },
  ],
);
export type GroupTarget = z.output<typeof GroupTarget>;
