import { describe, expect, it } from 'vitest';
import { isSpent, projectExhaustion, quotaState } from './projection.ts';

const DAY = 86_400_000;
const month = { start: 0, end: 30 * DAY };

describe('quota projection', () => {
  it('extrapolates the month so far', () => {
    // 1000 of 3000 in 10 days: 100 a day, 2000 left run out on day 30 exactly: not before the month ends.
    expect(projectExhaustion({ calls: 1000, limit: 3000 }, 10 * DAY, month)).toBeUndefined();
    // 1500 in 10 days: 150 a day, 1500 left last 10 more days: day 20.
    expect(projectExhaustion({ calls: 1500, limit: 3000 }, 10 * DAY, month)).toBe(20 * DAY);
  });

  it('takes at least a day as the elapsed time', () => {
    // 10 calls in the first hour: 10 a day, 90 left last 9 days.
    expect(projectExhaustion({ calls: 10, limit: 100 }, DAY / 24, month)).toBe(DAY / 24 + 9 * DAY);
  });

  it('projects nothing without calls', () => {
    expect(projectExhaustion({ calls: 0, limit: 100 }, 5 * DAY, month)).toBeUndefined();
  });

  it('is spent at the limit or when DingTalk said so', () => {
    expect(isSpent({ calls: 100, limit: 100 })).toBe(true);
    expect(isSpent({ calls: 3, limit: 100, exhaustedAt: DAY })).toBe(true);
    expect(projectExhaustion({ calls: 3, limit: 100, exhaustedAt: DAY }, 2 * DAY, month)).toBe(DAY);
  });

  it('says whether the month is at risk', () => {
    expect(quotaState({ calls: 10, limit: 3000 }, 10 * DAY, month)).toBe('Within');
    expect(quotaState({ calls: 1500, limit: 3000 }, 10 * DAY, month)).toBe('AtRisk');
    expect(quotaState({ calls: 3000, limit: 3000 }, 10 * DAY, month)).toBe('Exhausted');
  });
});
