import { describe, expect, it } from 'vitest';
import { RateBudget } from './rate-budget.ts';
import { RobotBudgets, tenantRobotKey } from './robot-budgets.ts';

const shared = 'a'.repeat(64);
const other = 'b'.repeat(64);
const url = (token: string) => `https://oapi.dingtalk.com/robot/send?access_token=${token}`;

describe('RobotBudgets following the configuration', () => {
  it("keeps a tenant's limit when another tenant names the same robot with a lower one", () => {
    const budgets = new RobotBudgets({ limit: 20, windowMs: 60_000 });
    const a = budgets.forRobot('team-a', url(shared), 20);
    budgets.configure(
      [
        { namespace: 'team-a', webhook: url(shared), limit: 20 },
        { namespace: 'team-b', webhook: shared, limit: 1 },
      ],
      0,
    );
    const b = budgets.forRobot('team-b', shared, 20);
    expect(budgets.forRobot('team-a', url(shared), 20)).toBe(a);
    expect(b.own.limit).toBe(1);
    expect(a.available(0)).toBe(20);
    b.begin()(0);
    // Team b is at its own limit; team a, on the same robot, is not held to it.
    expect(b.available(1)).toBe(0);
    expect(a.available(1)).toBe(19);
  });

  it("counts every tenant's sends against the robot's budget: DingTalk's limit is per robot", () => {
    const budgets = new RobotBudgets({ limit: 3, windowMs: 60_000 });
    const a = budgets.forRobot('team-a', shared);
    const b = budgets.forRobot('team-b', url(shared));
    expect(a.robot).toBe(b.robot);
    a.begin()(0);
    a.begin()(0);
    b.begin()(0);
    expect(a.available(1)).toBe(0);
    expect(b.available(1)).toBe(0);
    expect(b.nextSlotAt(1)).toBe(60_500);
  });

  it("holds every tenant's sends through a robot while DingTalk blocks it, whichever tenant's send it refused", () => {
    const budgets = new RobotBudgets({ limit: 20, windowMs: 60_000 });
    const a = budgets.forRobot('team-a', shared);
    const b = budgets.forRobot('team-b', shared);
    const other = budgets.forRobot('team-b', 'b'.repeat(64));
    a.pause(600_000);
    // Pools route around it for every tenant.
    expect(budgets.blocked(url(shared), 1_000)).toBe(true);
    expect(budgets.blocked('b'.repeat(64), 1_000)).toBe(false);
    expect(b.available(1_000)).toBe(0);
    expect(b.nextSlotAt(1_000)).toBe(600_000);
    expect(other.nextSlotAt(1_000)).toBe(1_000);
    expect(b.nextSlotAt(600_000)).toBe(600_000);
    expect(b.available(600_000)).toBe(20);
    // A paused robot's budget is kept while the pause lasts, though nothing counts against it.
    budgets.configure([], 2_000);
    expect(budgets.forRobot('team-c', shared).robot).toBe(a.robot);
  });

  it("lowers a tenant's budget already in use when another of its groups on the robot sets a lower limit", () => {
    const budgets = new RobotBudgets({ limit: 20, windowMs: 60_000 });
    const budget = budgets.forRobot('team-a', url(shared), 20);
    budgets.configure(
      [
        { namespace: 'team-a', webhook: url(shared), limit: 20 },
        { namespace: 'team-a', webhook: shared, limit: 5 },
      ],
      0,
    );
    expect(budgets.forRobot('team-a', url(shared), 20)).toBe(budget);
    expect(budget.own.limit).toBe(5);
    expect(budget.available(0)).toBe(5);
  });

  it('follows a changed rateLimitPerMinute both ways, within the operator-wide limit', () => {
    const budgets = new RobotBudgets({ limit: 15, windowMs: 60_000 });
    const budget = budgets.forRobot('team-a', shared, 10);
    budgets.configure([{ namespace: 'team-a', webhook: shared, limit: 3 }], 0);
    expect(budget.own.limit).toBe(3);
    budgets.configure([{ namespace: 'team-a', webhook: shared, limit: 20 }], 0);
    expect(budget.own.limit).toBe(15);
    expect(budget.available(0)).toBe(15);
  });

  it('creates a budget with the configured limit rather than the first caller’s', () => {
    const budgets = new RobotBudgets({ limit: 20, windowMs: 60_000 });
    budgets.configure([{ namespace: 'team-a', webhook: shared, limit: 4 }], 0);
    expect(budgets.forRobot('team-a', shared, 20).own.limit).toBe(4);
    expect(budgets.forRobot('team-b', shared, 20).own.limit).toBe(20);
  });

  it('forgets the budget of a robot no longer used once nothing counts against it, and keeps one a queue retains', () => {
    const budgets = new RobotBudgets({ limit: 20, windowMs: 60_000 });
    const used = budgets.forRobot('team-a', shared);
    const retained = budgets.forRobot('team-a', other);
    used.begin()(1_000);
    budgets.configure([], 2_000, new Set([tenantRobotKey('team-a', other)]));
    expect(budgets.forRobot('team-a', shared)).toBe(used);
    expect(budgets.forRobot('team-a', other)).toBe(retained);
    budgets.configure([], 62_000);
    const renewed = budgets.forRobot('team-a', shared);
    expect(renewed).not.toBe(used);
    expect(renewed.robot).not.toBe(used.robot);
    expect(budgets.forRobot('team-a', other)).not.toBe(retained);
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
