import {
  DingTalkConditionReason,
  type GroupStatus,
  type MemberStatus,
  type RobotStatus,
  type SendOutcome,
} from '../../api/index.ts';
import type { HeldTarget } from '../../delivery/held.ts';
import type { StreamStatus } from '../../dingtalk/stream-client.ts';
import { formatTime, type TestResults } from './test-send.ts';
import type { GroupCheck } from './validate-groups.ts';
import { type MemberCheck, unknownMemberNames, type Verdict } from './validate-member.ts';

/**
 * Turns the checks into this controller's part of DingTalkService status (see DingTalkServiceStatus for
 * who writes which field). status.groups is this controller's alone: rebuilt from the checks, keeping
 * each entry's last test.
 */

export function applyGroupChecks(
  current: readonly GroupStatus[] | undefined,
  checks: readonly GroupCheck[],
  tests?: Pick<TestResults, 'groups' | 'robots'>,
): GroupStatus[] {
  return checks.map((check) => {
    const { robots: currentRobots, ...kept } = current?.find((group) => group.name === check.name) ?? {};
    const entry: GroupStatus = {
      ...kept,
      name: check.name,
      ready: check.ready,
      reason: check.reason,
      message: check.message.slice(0, 1024),
    };
    const test = tests?.groups.get(check.name);
    if (test) entry.lastTest = test;
    if (check.robots) {
      entry.robots = check.robots.map((robot) => {
        const status: RobotStatus = {
          ...currentRobots?.find((r) => r.name === robot.name),
          name: robot.name,
          ready: robot.ready,
          reason: robot.reason,
          message: robot.message.slice(0, 1024),
        };
        const robotTest = tests?.robots.get(check.name)?.get(robot.name);
        if (robotTest) status.lastTest = robotTest;
        return status;
      });
    }
    return entry;
  });
}

export function applyMemberCheck(
  current: MemberStatus | undefined,
  check: MemberCheck,
  test?: SendOutcome,
): MemberStatus {
  const status: MemberStatus = { ...current };
  status.ready = check.ready;
  status.reason = check.reason;
  status.message = check.message.slice(0, 1024);
  // What was learnt last time stays until DingTalk is asked again successfully.
  if (check.tokenExpiresAt !== undefined) status.tokenExpiresAt = formatTime(new Date(check.tokenExpiresAt));
  if (check.resolvedMembers !== undefined) status.resolvedMembers = check.resolvedMembers;
  if (check.unknownMembers !== undefined) {
    status.unknownMembers = check.unknownMembers.length;
    status.unknownMemberNames = unknownMemberNames(check.unknownMembers);
  }
  if (test) status.lastTest = test;
  return status;
}

/**
 * StreamConnected from the leader's own Stream connection of the service's app (card clicks): True
 * while open; False while it is first opened, or lost and reconnecting, with why (no credential in it).
 */
export function streamCondition(stream: StreamStatus | undefined): {
  status: 'True' | 'False';
  reason: string;
  message: string;
} {
  if (stream?.connected)
    return {
      status: 'True',
      reason: DingTalkConditionReason.StreamOpen,
      message: `connected since ${stream.connectedSince === undefined ? '?' : formatTime(new Date(stream.connectedSince))}`,
    };
  if (!stream?.lastError)
    return {
      status: 'False',
      reason: DingTalkConditionReason.StreamConnecting,
      message: 'opening the Stream connection for card clicks',
    };
  return {
    status: 'False',
    reason: DingTalkConditionReason.StreamLost,
    message: `${stream.lastError.slice(0, 512)}; reconnecting (${stream.failures} failure(s) in a row)`,
  };
}

export interface Summary {
  ready: boolean;
  reason: string;
  message: string;
  /** Another attempt soon may help (DingTalk unreachable or throttling). */
  retry: boolean;
  /** Validation is complete, and CredentialsValid says whether the credentials hold. */
  credentials: Verdict;
}

/** Ready is True only when every configured target can be sent to and DingTalk takes what is sent. */
export function summarise(
  groups: readonly GroupCheck[],
  member: MemberCheck | undefined,
  held: readonly HeldTarget[] = [],
): Summary {
  const refusals = held
    .filter((target) => !target.quota)
    .map((target) => ({ reason: DingTalkConditionReason.Held, text: heldText(target) }));
  const spent = held
    .filter((target) => target.quota)
    .map((target) => ({ reason: DingTalkConditionReason.QuotaExhausted, text: heldText(target) }));
  const problems = [
    ...refusals,
    ...spent,
    ...groups
      .filter((group) => !group.ready)
      .map((group) => ({ reason: group.reason, text: `group ${group.name}: ${group.message}` })),
    ...(member && !member.ready ? [{ reason: member.reason, text: `member: ${member.message}` }] : []),
  ];
  const [first] = problems;
  const targets = [
    ...(groups.length > 0 ? [`${groups.length} group(s)`] : []),
    ...(member ? ['the member app'] : []),
  ].join(' and ');
  return {
    ready: first === undefined,
    reason: first?.reason ?? DingTalkConditionReason.Validated,
    message: first === undefined ? `${targets} ready` : problems.map((p) => p.text).join('; '),
    retry: member?.retry ?? false,
    credentials: refusals[0]
      ? {
          status: 'False',
          reason: DingTalkConditionReason.Held,
          message: refusals.map((r) => r.text).join('; '),
        }
      : credentialsVerdict(groups, member),
  };
}

function heldText(target: HeldTarget): string {
  const where =
    target.kind === 'Group'
      ? `group ${target.name}`
      : target.kind === 'AppGroup'
        ? `member.groups ${target.name}`
        : 'member';
  const code = target.errcode === undefined ? '' : ` with errcode ${target.errcode}`;
  const until = target.quota
    ? "the month turns or the target's monthlyQuota changes"
    : 'a Secret, ConfigMap or this service changes';
  return `${where}: DingTalk refused alarms${code} (${target.message}); ${target.alarms} alarm(s) held since ${formatTime(new Date(target.since))} until ${until}`;
}

/** CredentialsValid: every referenced Secret is usable and DingTalk accepted the app's credentials. */
function credentialsVerdict(groups: readonly GroupCheck[], member: MemberCheck | undefined): Verdict {
  const badGroup = groups.find(
    (group) => !group.ready && group.reason !== DingTalkConditionReason.InvalidKeywords,
  );
  if (badGroup) {
    return {
      status: 'False',
      reason: badGroup.reason,
      message: `group ${badGroup.name}: ${badGroup.message}`,
    };
  }
  if (member && member.credentials.status !== 'True') return member.credentials;
  const parts = [
    ...(groups.length > 0 ? [`webhooks of ${groups.length} group(s) valid`] : []),
    ...(member ? [member.credentials.message] : []),
  ];
  return { status: 'True', reason: DingTalkConditionReason.Validated, message: parts.join('; ') };
}
