import { describe, expect, it } from 'vitest';
import { RateBudget } from './rate-budget.ts';
import { RobotBudgets, robotKey } from './robot-budgets.ts';

const shared = 'a'.repeat(64);
const other = 'b'.repeat(64);
const url = (token: string) => `https://oapi.dingtalk.com/robot/send?access_token=${token}`;

describe('RobotBudgets following the configuration', () => {
  it('lowers a robot budget already in use when a second tenant shares the robot with a lower limit', () => {
    const budgets = new RobotBudgets({ limit: 20, windowMs: 60_000 });
    const budget = budgets.forRobot(url(shared), 20);
    budgets.configure(
      [
        { webhook: url(shared), limit: 20 },
        { webhook: shared, limit: 5 },
      ],
      0,
    );
    expect(budgets.forRobot(url(shared), 20)).toBe(budget);
    expect(budget.limit).toBe(5);
    expect(budget.available(0)).toBe(5);
  });

  it('follows a changed rateLimitPerMinute both ways, within the operator-wide limit', () => {
    const budgets = new RobotBudgets({ limit: 15, windowMs: 60_000 });
    const budget = budgets.forRobot(shared, 10);
    budgets.configure([{ webhook: shared, limit: 3 }], 0);
    expect(budget.limit).toBe(3);
    budgets.configure([{ webhook: shared, limit: 20 }], 0);
    expect(budget.limit).toBe(15);
  });

  it('gives the remaining tenant its own limit once the stricter one no longer uses the robot', () => {
    const budgets = new RobotBudgets({ limit: 20, windowMs: 60_000 });
    const budget = budgets.forRobot(shared);
    budgets.configure(
      [
        { webhook: shared, limit: 2 },
        { webhook: shared, limit: 12 },
      ],
      0,
    );
    expect(budget.limit).toBe(2);
    budgets.configure([{ webhook: shared, limit: 12 }], 0);
    expect(budget.limit).toBe(12);
  });

  it('creates a budget with the configured limit rather than the first caller’s', () => {
    const budgets = new RobotBudgets({ limit: 20, windowMs: 60_000 });
    budgets.configure([{ webhook: shared, limit: 4 }], 0);
    expect(budgets.forRobot(shared, 20).limit).toBe(4);
  });

  it('forgets the budget of a robot no longer used once nothing counts against it, and keeps one a queue retains', () => {
    const budgets = new RobotBudgets({ limit: 20, windowMs: 60_000 });
    const used = budgets.forRobot(shared);
    const retained = budgets.forRobot(other);
    used.begin()(1_000);
    budgets.configure([], 2_000, new Set([robotKey(other)]));
    expect(budgets.forRobot(shared)).toBe(used);
    expect(budgets.forRobot(other)).toBe(retained);
    budgets.configure([], 62_000);
    expect(budgets.forRobot(shared)).not.toBe(used);
    expect(budgets.forRobot(other)).not.toBe(retained);
  });
});

describe('RateBudget with a lowered limit', () => {
  it('waits until enough counted sends left the window for the lower limit', () => {
    const budget = new RateBudget({ limit: 4, windowMs: 60_000, marginMs: 0 });
    for (const at of [0, 1_000, 2_000, 3_000]) budget.record(at);
    budget.limit = 2;
    expect(budget.available(4_000)).toBe(0);
    // Three of the four must go: the third-oldest leaves the window at 62 s.
    expect(budget.nextSlotAt(4_000)).toBe(62_000);
    expect(budget.available(62_000)).toBe(1);
  });
});
