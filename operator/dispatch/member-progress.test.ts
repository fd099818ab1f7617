import { describe, expect, it } from 'vitest';
import { MEMBER_PENDING_KEPT } from '../api/index.ts';
import { chunkUserIds } from '../dingtalk/member-message.ts';
import {
  applyAnswer,
  failStep,
  type MemberProgress,
  nextStep,
  progressFrom,
  RETRY_BASE_MS,
  recordOf,
} from './member-progress.ts';

const users = (count: number) => Array.from({ length: count }, (_, i) => `u${i}`);

/** Runs a member send to the end, DingTalk answering each call with `answer`; returns the calls. */
function run(
  progress: MemberProgress,
  ids: string[],
  answer: (userIds: string[]) => { flowControlled?: string[] },
) {
  const chunks = chunkUserIds(ids);
  const calls: { userIds: string[]; at: number }[] = [];
  let now = 0;
  for (;;) {
    const step = nextStep(progress, chunks, now);
    if (step.kind === 'done') return calls;
    if (step.kind === 'retry') now = Math.max(now, step.notBefore);
    calls.push({ userIds: step.userIds, at: now });
    const flowControlled = answer(step.userIds).flowControlled ?? [];
    applyAnswer(progress, step, {
      sent: step.userIds.filter((id) => !flowControlled.includes(id)),
      invalid: [],
      flowControlled,
    });
  }
}

describe('member progress', () => {
  it('sends 45 members in three calls of at most 20, one per step', () => {
    const progress = progressFrom(undefined);
    const calls = run(progress, users(45), () => ({}));
    expect(calls.map((c) => c.userIds.length)).toEqual([20, 20, 5]);
    expect(recordOf(progress)).toEqual({ total: 0, delivered: 45, failed: 0, chunksDone: 3 });
  });

  it('goes on after the chunks the ledger records as done: nobody of them is messaged again', () => {
    const progress = progressFrom({ total: 45, delivered: 20, failed: 0, chunksDone: 1 });
    const calls = run(progress, users(45), () => ({}));
    expect(calls.flatMap((c) => c.userIds)).not.toContain('u0');
    expect(calls.map((c) => c.userIds.length)).toEqual([20, 5]);
    expect(progress.delivered).toBe(45);
  });

  it('sends flow-controlled members again, only them, after growing delays, then records them Throttled', () => {
    const progress = progressFrom(undefined);
    const calls = run(progress, users(3), () => ({ flowControlled: ['u2'] }));
    expect(calls.map((c) => c.userIds)).toEqual([['u0', 'u1', 'u2'], ['u2'], ['u2'], ['u2']]);
    expect(calls.map((c) => c.at)).toEqual([0, RETRY_BASE_MS, 3 * RETRY_BASE_MS, 7 * RETRY_BASE_MS]);
    expect(progress).toMatchObject({
      delivered: 2,
      failed: 1,
      failures: [{ member: 'u2', reason: 'Throttled' }],
    });
  });

  it('keeps flow-controlled members on record, so a restart sends them again in the next round', () => {
    const before = progressFrom(undefined);
    const chunks = chunkUserIds(users(3));
    applyAnswer(before, nextStep(before, chunks, 0), {
      sent: ['u0', 'u1'],
      invalid: [],
      flowControlled: ['u2'],
    });
    const record = recordOf(before);
    expect(record).toMatchObject({ delivered: 2, chunksDone: 1, pending: ['u2'] });

    const after = progressFrom(record);
    expect(nextStep(after, chunks, 1_000)).toEqual({
      kind: 'retry',
      userIds: ['u2'],
      notBefore: 1_000 + RETRY_BASE_MS,
    });
    expect(recordOf(after)).toMatchObject({ pending: ['u2'], rounds: 1 });
  });

  it('records flow-controlled members beyond what the ledger keeps as Throttled at once', () => {
    const progress = progressFrom(undefined);
    const members = users(MEMBER_PENDING_KEPT + 20);
    const chunks = chunkUserIds(members);
    for (let i = 0; i < chunks.length; i++) {
      const step = nextStep(progress, chunks, 0);
      if (step.kind !== 'chunk') throw new Error(`expected chunk ${i}`);
      applyAnswer(progress, step, { sent: [], invalid: [], flowControlled: step.userIds });
    }
    const record = recordOf(progress);
    expect(record.pending).toHaveLength(MEMBER_PENDING_KEPT);
    expect(record.failed).toBe(20);
    expect(progress.failures[0]).toMatchObject({ reason: 'Throttled' });
  });

  it('records a chunk whose call failed as its members, and keeps only the first 20 names', () => {
    const progress = progressFrom(undefined);
    const chunks = chunkUserIds(users(45));
    for (let i = 0; i < 2; i++) {
      failStep(progress, nextStep(progress, chunks, 0), 'Unconfirmed');
    }
    expect(progress.failed).toBe(40);
    expect(progress.failures).toHaveLength(20);
    expect(nextStep(progress, chunks, 0)).toMatchObject({ kind: 'chunk', index: 2 });
  });
});
