import { MEMBER_FAILURES_KEPT, MEMBER_PENDING_KEPT, type MemberRecord } from '../api/index.ts';
import { backoffDelay } from '../runtime/backoff.ts';

/**
 * Progress of one notification to a member set, one batchSend call (at most 20 members) at a time, so
 * every call takes a slot of the app's budget and the ledger records each call DingTalk answered: a
 * retry or a restart goes on after the chunks already done and never messages their members again.
 * Members DingTalk skipped for flow control are sent again (only they) in later rounds, after a delay
 * the queue waits out without blocking anything else. Pure: the caller makes the calls.
 */

export interface MemberProgress {
  total: number;
  delivered: number;
  failed: number;
  /** Chunks of the first pass that DingTalk answered. */
  chunksDone: number;
  failures: NonNullable<MemberRecord['failures']>;
  /** Flow-controlled members of the round under way, not yet sent again. */
  retry: string[];
  /** Flow-controlled members for the next round. */
  again: string[];
  /** Rounds of retries started. */
  rounds: number;
  /** When the round under way may be sent. */
  retryAt: number;
}

export const RETRY_ROUNDS = 3;
export const RETRY_BASE_MS = 2_000;

/**
 * Progress from the ledger's record (a restart), or a fresh start. Members a previous run still had to
 * send again start the next round, after its delay.
 */
export function progressFrom(record: MemberRecord | undefined): MemberProgress {
  return {
    total: record?.total ?? 0,
    delivered: record?.delivered ?? 0,
    failed: record?.failed ?? 0,
    chunksDone: record?.chunksDone ?? 0,
    failures: [...(record?.failures ?? [])],
    retry: [],
    again: [...(record?.pending ?? [])],
    rounds: record?.rounds ?? 0,
    retryAt: 0,
  };
}

export function recordOf(progress: MemberProgress): MemberRecord {
  const { total, delivered, failed, chunksDone, failures, rounds } = progress;
  const pending = [...progress.retry, ...progress.again];
  return {
    total,
    delivered,
    failed,
    chunksDone,
    ...(failures.length > 0 && { failures }),
    // Rounds matter only to a restart that still has members to send again.
    ...(pending.length > 0 && { pending, rounds }),
  };
}

/** Counts members who will not get the message, keeping the first few by name. */
export function fail(
  progress: MemberProgress,
  members: readonly string[],
  reason: string,
  errcode?: string,
): void {
  progress.failed += members.length;
  for (const member of members) {
    if (progress.failures.length >= MEMBER_FAILURES_KEPT) break;
    progress.failures.push(errcode === undefined ? { member, reason } : { member, reason, errcode });
  }
}

export type MemberStep =
  | { kind: 'chunk'; index: number; userIds: string[] }
  | { kind: 'retry'; userIds: string[]; notBefore: number }
  | { kind: 'done' };

/**
 * What to send next for `chunks` (the member set's userIds in batchSend-sized chunks): the next chunk of
 * the first pass, then rounds for the flow-controlled members, each after a longer delay; members still
 * flow-controlled after the last round are recorded Throttled.
 */
export function nextStep(progress: MemberProgress, chunks: readonly string[][], now: number): MemberStep {
  const chunk = chunks[progress.chunksDone];
  if (chunk) return { kind: 'chunk', index: progress.chunksDone, userIds: chunk };
  if (progress.retry.length === 0 && progress.again.length > 0) {
    if (progress.rounds >= RETRY_ROUNDS) {
      fail(progress, progress.again, 'Throttled');
      progress.again = [];
      return { kind: 'done' };
    }
    progress.rounds++;
    progress.retry = progress.again;
    progress.again = [];
    progress.retryAt =
      now +
      backoffDelay(progress.rounds, { initialMs: RETRY_BASE_MS, maxMs: RETRY_BASE_MS * 2 ** RETRY_ROUNDS });
  }
  if (progress.retry.length === 0) return { kind: 'done' };
  return { kind: 'retry', userIds: progress.retry.slice(0, 20), notBefore: progress.retryAt };
}

export interface ChunkAnswer {
  sent: readonly string[];
  invalid: readonly string[];
  flowControlled: readonly string[];
}

/** Records DingTalk's answer to a step. */
export function applyAnswer(progress: MemberProgress, step: MemberStep, answer: ChunkAnswer): void {
  if (step.kind === 'done') return;
  progress.delivered += answer.sent.length;
  fail(progress, answer.invalid, 'InvalidUserId');
  finishStep(progress, step);
  const room = MEMBER_PENDING_KEPT - progress.retry.length - progress.again.length;
  progress.again.push(...answer.flowControlled.slice(0, Math.max(0, room)));
  fail(progress, answer.flowControlled.slice(Math.max(0, room)), 'Throttled');
}

/** Records that a step's members did not get the message (or that nobody can tell), and moves on. */
export function failStep(progress: MemberProgress, step: MemberStep, reason: string, errcode?: string): void {
  if (step.kind === 'done') return;
  fail(progress, step.userIds, reason, errcode);
  finishStep(progress, step);
}

function finishStep(progress: MemberProgress, step: Exclude<MemberStep, { kind: 'done' }>): void {
  if (step.kind === 'chunk') progress.chunksDone = step.index + 1;
  else progress.retry = progress.retry.slice(step.userIds.length);
}
