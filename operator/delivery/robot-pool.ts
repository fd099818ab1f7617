import { createHash } from 'node:crypto';

/**
 * Which robot of a group's pool carries an alarm group's messages: rendezvous (highest random weight)
 * hashing of the alarm group's key over the robots' names. The choice is a pure function of the key and
 * the robots, so every run and every replica makes the same one without remembering anything; the
 * robots spread the alarm groups evenly; and a robot leaving the healthy set moves only the alarm
 * groups it carried (each to its next-ranked robot), which move back once it is healthy again.
 */

/** The robots ranked for one alarm group, first choice first. */
export function rankRobots<R extends { name: string }>(stickyKey: string, robots: readonly R[]): R[] {
  return robots
    .map((robot) => ({ robot, weight: weightOf(stickyKey, robot.name) }))
    .sort((a, b) => b.weight - a.weight || (a.robot.name < b.robot.name ? -1 : 1))
    .map(({ robot }) => robot);
}

/**
 * The robot for an alarm group: the first-ranked healthy one. With none healthy, the first-ranked
 * anyway: its queue then waits out the block, or DingTalk's refusal holds the alarms, as for a group
 * with one robot.
 */
export function chooseRobot<R extends { name: string }>(
  stickyKey: string,
  robots: readonly R[],
  healthy: (robot: R) => boolean,
): R | undefined {
  const ranked = rankRobots(stickyKey, robots);
  return ranked.find(healthy) ?? ranked[0];
}

function weightOf(stickyKey: string, robot: string): number {
  // 48 bits of a digest: evenly spread, and exact in a double.
  return Number.parseInt(
    createHash('sha256').update(`${stickyKey}\u0000${robot}`).digest('hex').slice(0, 12),
    16,
  );
}
