import { describe, expect, it } from 'vitest';
import { chooseRobot, rankRobots } from './robot-pool.ts';

const pool = [{ name: 'a' }, { name: 'b' }, { name: 'c' }];
const keys = Array.from({ length: 3_000 }, (_, i) =>
  JSON.stringify(['team-a', 'rule', { alertname: `x${i}` }]),
);
const all = () => true;

describe('robot pool choice', () => {
  it('keeps an alarm group on one robot, whatever the order the robots are listed in', () => {
    for (const key of keys.slice(0, 100)) {
      const first = chooseRobot(key, pool, all);
      expect(chooseRobot(key, [...pool].reverse(), all)).toEqual(first);
      expect(chooseRobot(key, pool, all)).toEqual(first);
    }
  });

  it('spreads alarm groups evenly over the robots', () => {
    const counts = new Map<string, number>();
    for (const key of keys) {
      const robot = chooseRobot(key, pool, all)?.name as string;
      counts.set(robot, (counts.get(robot) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).toEqual(['a', 'b', 'c']);
    for (const count of counts.values()) expect(count).toBeGreaterThan(900);
  });

  it('moves only the failed robot’s alarm groups, each to its next-ranked robot', () => {
    const healthy = (robot: { name: string }) => robot.name !== 'b';
    for (const key of keys) {
      const before = chooseRobot(key, pool, all)?.name;
      const after = chooseRobot(key, pool, healthy)?.name;
      if (before === 'b') expect(after).toBe(rankRobots(key, pool)[1]?.name);
      else expect(after).toBe(before);
    }
  });

  it('gives the robot’s alarm groups back to it once it recovers', () => {
    const healthy = (robot: { name: string }) => robot.name !== 'c';
    for (const key of keys.slice(0, 200)) {
      chooseRobot(key, pool, healthy);
      expect(chooseRobot(key, pool, all)).toEqual(rankRobots(key, pool)[0]);
    }
  });

  it('falls back to the first-ranked robot when none is healthy, and has none in an empty pool', () => {
    const key = keys[0] as string;
    expect(chooseRobot(key, pool, () => false)).toEqual(rankRobots(key, pool)[0]);
    expect(chooseRobot(key, [], all)).toBeUndefined();
  });

  it('chooses differently for the same labels in another namespace', () => {
    const spread = new Set(
      ['team-a', 'team-b', 'team-c', 'team-d', 'team-e', 'team-f'].map(
        (ns) => chooseRobot(JSON.stringify([ns, 'rule', { alertname: 'same' }]), pool, all)?.name,
      ),
    );
    expect(spread.size).toBeGreaterThan(1);
  });
});
