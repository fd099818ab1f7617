import { createHash } from 'node:crypto';
import { type SendOutcome, TEST_ANNOTATION } from '../../api/index.ts';
import type { SendBudget } from '../../delivery/robot-budgets.ts';
import type { DingTalkClient, DingTalkError } from '../../dingtalk/index.ts';
import { isDingTalkError } from '../../dingtalk/index.ts';
import { chunkUserIds } from '../../dingtalk/member-message.ts';
import type { QuotaBucket } from '../../quota/ledger.ts';
import { redactUrl } from '../../runtime/logger.ts';
import { truncateUtf8 } from '../../runtime/text.ts';
import type { ResolvedGroup, ResolvedRobot } from '../../targets/index.ts';
import type { GroupCheck } from './validate-groups.ts';
import type { MemberCheck } from './validate-member.ts';

/**
 * "Send test": a new value of the test annotation sends one message to every target and records the
 * outcome. The value acted on is kept in status, so the same value never sends twice, also across
 * restarts and leader changes.
 */

const MAX_KEPT_VALUE = 64;

/** The annotation value as kept in status.lastHandledTest: itself, or a digest when long. */
export function testRequest(annotations: Readonly<Record<string, string>> | undefined): string | undefined {
  const value = annotations?.[TEST_ANNOTATION];
  if (value === undefined || value === '') return undefined;
  return value.length <= MAX_KEPT_VALUE
    ? value
    : `sha256:${createHash('sha256').update(value).digest('hex')}`;
}

export interface TestResults {
  /** Per group: its robot's outcome, or for a pool the worst of its robots'. */
  groups: Map<string, SendOutcome>;
  /** Per pool, by group name: each robot's outcome. */
  robots: Map<string, Map<string, SendOutcome>>;
  member?: SendOutcome;
  /** The worst outcome over all targets. */
  overall: SendOutcome;
}

export interface TestSendInput {
  service: string;
  /** The request (testRequest's value), named in the text so DingTalk never shows two tests as one. */
  request: string;
  /** The send budget of a group's robot, shared with alarm notifications. */
  budgetFor?: (robot: ResolvedRobot, group: ResolvedGroup) => SendBudget;
  groups: readonly GroupCheck[];
  member: MemberCheck | undefined;
  dingtalk: Pick<DingTalkClient, 'sendGroupMessage' | 'sendToMembers'>;
  /** Counts each call against the month's quota of its bucket (`error`: how it failed). */
  recordCall?: (bucket: QuotaBucket, error?: unknown) => void;
  now?: () => Date;
}

/**
 * When a group robot has no send left in its budget, no test is sent and the answer says when to try
 * again: a test must never push a robot over DingTalk's limit, which blocks it for ten minutes.
 */
export function testPostponedUntil(
  input: Pick<TestSendInput, 'groups' | 'budgetFor'>,
  now: number,
): number | undefined {
  let until: number | undefined;
  for (const check of input.groups) {
    if (!check.target || !input.budgetFor) continue;
    for (const robot of check.target.robots) {
      const budget = input.budgetFor(robot, check.target);
      if (budget.available(now) === 0) until = Math.max(until ?? 0, budget.nextSlotAt(now));
    }
  }
  return until;
}

export async function sendTests(input: TestSendInput): Promise<TestResults> {
  const now = input.now ?? (() => new Date());
  const text = `Test message from dingtalk-operator for DingTalkService ${input.service} (request ${input.request}, ${formatTime(now())}). Alarms sent to this service will arrive here.`;
  const at = () => formatTime(now());
  const notSent = (why: string): SendOutcome => ({
    time: at(),
    result: 'Failed',
    message: truncateUtf8(`not sent: ${why}`, 1024),
  });

  const groups = new Map<string, SendOutcome>();
  const robots = new Map<string, Map<string, SendOutcome>>();
  for (const check of input.groups) {
    if (!check.target) {
      groups.set(check.name, notSent(check.message));
      continue;
    }
    // A pool is tested through each of its ready robots: each is a webhook that may be wrong.
    const outcomes = new Map<string, SendOutcome>();
    for (const robot of check.target.robots) {
      const finish = input.budgetFor?.(robot, check.target).begin();
      try {
        await input.dingtalk.sendGroupMessage(robot, { type: 'text', content: text });
        input.recordCall?.({ kind: 'Robot', group: check.name });
        outcomes.set(robot.name, { time: at(), result: 'Succeeded' });
      } catch (err) {
        input.recordCall?.({ kind: 'Robot', group: check.name }, err);
        if (!isDingTalkError(err)) throw err;
        outcomes.set(robot.name, failedOutcome(err, at()));
      } finally {
        finish?.(now().getTime());
      }
    }
    groups.set(check.name, worstOf([...outcomes.values()], at()));
    if (check.target.pool) robots.set(check.name, outcomes);
  }

  let member: SendOutcome | undefined;
  if (input.member) {
    const { app, userIds } = input.member;
    if (!app || !userIds) member = notSent(input.member.message);
    else {
      const sent = await input.dingtalk.sendToMembers(app, userIds, { type: 'text', content: text });
      const calls = chunkUserIds(userIds).length;
      for (let i = sent.failed.length; i < calls; i++) input.recordCall?.({ kind: 'App' });
      for (const failed of sent.failed) input.recordCall?.({ kind: 'App' }, failed.error);
      const [failure] = sent.failed;
      if (failure) member = failedOutcome(failure.error, at());
      else if (sent.sentUserIds.length === 0)
        member = {
          time: at(),
          result: sent.flowControlledUserIds.length > 0 ? 'Throttled' : 'Failed',
          message: `DingTalk delivered to none of ${userIds.length} member(s) (invalid: ${sent.invalidUserIds.length}, flow-controlled: ${sent.flowControlledUserIds.length})`,
        };
      else
        member = {
          time: at(),
          result: 'Succeeded',
          message: `sent to ${sent.sentUserIds.length} of ${userIds.length} member(s)`,
        };
    }
  }

  const outcomes = [...groups.values(), ...(member ? [member] : [])];
  const worst = worstOutcome(outcomes);
  const failures = outcomes.filter((o) => o.result !== 'Succeeded').length;
  const overall: SendOutcome = {
    time: at(),
    result: worst?.result ?? 'Failed',
    message: `${outcomes.length - failures} of ${outcomes.length} target(s) received the test message`,
  };
  if (worst?.errcode !== undefined) overall.errcode = worst.errcode;
  return member ? { groups, robots, member, overall } : { groups, robots, overall };
}

function worstOutcome(outcomes: readonly SendOutcome[]): SendOutcome | undefined {
  return (
    outcomes.find((o) => o.result === 'Failed') ??
    outcomes.find((o) => o.result === 'Throttled') ??
    outcomes[0]
  );
}

/** A pool's outcome: the worst of its robots', saying how many took the test. */
function worstOf(outcomes: readonly SendOutcome[], time: string): SendOutcome {
  const worst = worstOutcome(outcomes) ?? { time, result: 'Failed' };
  if (outcomes.length === 1 || worst.result === 'Succeeded') return worst;
  const ok = outcomes.filter((o) => o.result === 'Succeeded').length;
  const message = `${ok} of ${outcomes.length} robot(s) received the test message; ${worst.message ?? worst.result}`;
  return { ...worst, message: truncateUtf8(message, 1024) };
}

function failedOutcome(err: DingTalkError, time: string): SendOutcome {
  const outcome: SendOutcome = {
    time,
    result: err.errorClass === 'throttled' ? 'Throttled' : 'Failed',
    message: truncateUtf8(redactUrl(err.errmsg ?? err.message), 1024),
  };
  if (err.errcode !== undefined) outcome.errcode = String(err.errcode).slice(0, 256);
  return outcome;
}

/** metav1.Time: RFC 3339 with second precision. */
export function formatTime(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}
