import { describe, expect, it } from 'vitest';
import { RobotBudgets } from './robot-budgets.ts';

const token = 'a'.repeat(64);

describe('RobotBudgets', () => {
  it("gives one budget to a tenant's robot however its webhook is written", () => {
    const budgets = new RobotBudgets({ limit: 20, windowMs: 60_000 });
    const byUrl = budgets.forRobot('team-a', `https://oapi.dingtalk.com/robot/send?access_token=${token}`);
    expect(budgets.forRobot('team-a', token)).toBe(byUrl);
    expect(budgets.forRobot('team-a', 'b'.repeat(64))).not.toBe(byUrl);
  });

  it('counts every sender of a tenant against the one budget', () => {
    const budgets = new RobotBudgets({ limit: 2, windowMs: 60_000 });
    budgets.forRobot('team-a', token).begin()(0);
    budgets.forRobot('team-a', token).begin()(0);
    expect(budgets.forRobot('team-a', token).available(1)).toBe(0);
  });
});
