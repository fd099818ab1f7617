import { DingTalkConditionReason, type GroupTarget } from '../../api/index.ts';
import {
  DingTalkErrorCode,
  isDingTalkError,
  resolveWebhook,
  type WebhookPolicy,
} from '../../dingtalk/index.ts';
import {
  type ReferenceReader,
  type ResolvedGroup,
  type ResolvedRobot,
  resolveGroup,
} from '../../targets/index.ts';

/**
 * Checks a group robot without sending to it: every message spends one of the robot's 20 a minute,
 * so validation stops at what can be known locally (Secrets present, webhook parsable, host allowed,
 * access_token present, signature secret and keywords well formed). Messages name Secrets and keys,
 * never a value or a part of one.
 */

export interface RobotCheck {
  name: string;
  ready: boolean;
  reason: string;
  message: string;
}

export interface GroupCheck extends RobotCheck {
  /** Present when a robot is ready: what a test message is sent with (a pool's ready robots only). */
  target?: ResolvedGroup;
  /** A pool's robots, each checked on its own, in spec order. */
  robots?: RobotCheck[];
}

// DingTalk shows the 加签 secret as SEC followed by hex digits; anything else was copied wrongly.
const SIGNATURE_SECRET = /^SEC[A-Za-z0-9]+$/;

/**
 * A group with one webhook is ready when its robot is. A pool is ready when every robot is; while
 * one is, alarms and test messages go through the ready ones.
 */
export function validateGroup(
  namespace: string,
  group: GroupTarget,
  reader: ReferenceReader,
  policy: WebhookPolicy,
): GroupCheck {
  const field = `spec.groups[${group.name}]`;
  if (!group.robots) {
    const resolved = resolveGroup(namespace, group, reader);
    if (!resolved.ok) return { name: group.name, ready: false, ...resolved.problem };
    const target = resolved.value;
    const check = checkRobot(target.robots[0] as ResolvedRobot, group, field, policy);
    return { ...check, name: group.name, ...(check.ready && { target }) };
  }
  const usable: ResolvedRobot[] = [];
  const robots = group.robots.map((spec): RobotCheck => {
    // Each robot resolved as a pool of its own, so each reports its own problem.
    const resolved = resolveGroup(namespace, { ...group, robots: [spec] }, reader);
    if (!resolved.ok) return { name: spec.name, ready: false, ...resolved.problem };
    const robot = resolved.value.robots[0] as ResolvedRobot;
    const check = checkRobot(robot, spec, `${field}.robots[${spec.name}]`, policy);
    if (check.ready) usable.push(robot);
    return check;
  });
  const bad = robots.filter((r) => !r.ready);
  const target: ResolvedGroup = {
    name: group.name,
    robots: usable,
    pool: true,
    unresolved: [],
    rateLimitPerMinute: group.rateLimitPerMinute,
  };
  return {
    name: group.name,
    ready: bad.length === 0,
    reason: bad[0]?.reason ?? DingTalkConditionReason.Validated,
    message:
      bad.length === 0
        ? `${robots.length} robot(s) valid`
        : bad.map((r) => `robot ${r.name}: ${r.message}`).join('; '),
    robots,
    ...(usable.length > 0 && { target }),
  };
}

/** The local checks of one robot; `spec` holds its Secret references, `field` where they are. */
function checkRobot(
  robot: ResolvedRobot,
  spec: Pick<GroupTarget, 'webhook' | 'signature'>,
  field: string,
  policy: WebhookPolicy,
): RobotCheck {
  const notReady = (reason: string, message: string): RobotCheck => ({
    name: robot.name,
    ready: false,
    reason,
    message,
  });
  try {
    resolveWebhook(robot.webhook, policy);
  } catch (err) {
    if (!isDingTalkError(err)) throw err;
    const reason =
      err.code === DingTalkErrorCode.hostNotAllowed
        ? DingTalkConditionReason.WebhookHostNotAllowed
        : DingTalkConditionReason.InvalidWebhook;
    const ref = spec.webhook ?? { name: '', key: '' };
    return notReady(reason, `Secret "${ref.name}" key "${ref.key}" (${field}.webhook): ${err.message}`);
  }

  if (robot.secret !== undefined && !SIGNATURE_SECRET.test(robot.secret)) {
    const ref = spec.signature ?? { name: '', key: '' };
    return notReady(
      DingTalkConditionReason.InvalidSignatureSecret,
      `Secret "${ref.name}" key "${ref.key}" (${field}.signature) does not hold a signature secret: it must start with SEC followed by letters and digits`,
    );
  }

  const keywords = robot.keywords.map((keyword) => keyword.trim());
  if (keywords.some((keyword) => keyword === '') || new Set(keywords).size !== keywords.length) {
    return notReady(
      DingTalkConditionReason.InvalidKeywords,
      `${field}.keywords has a blank or repeated keyword`,
    );
  }

  return {
    name: robot.name,
    ready: true,
    reason: DingTalkConditionReason.Validated,
    // Nothing of the webhook itself (not even its host): status is readable by more people than the Secret.
    message: `robot webhook valid${robot.secret ? ', signed' : ''}${keywords.length ? `, ${keywords.length} keyword(s)` : ''}`,
  };
}
