import type { RobotId } from '../delivery/robot-health.ts';
import type { Notification } from './notification.ts';

/**
 * The key a pool's robot is chosen by (robot-pool.ts): the alarm group a notification speaks for —
 * its rule (namespace and name), its target, and the values of the rule's groupBy labels — so that
 * group's messages go through one robot, one after another.
 */
export function stickyKeyOf(n: Pick<Notification, 'rule' | 'target' | 'groupLabels'>): string {
  return JSON.stringify([n.rule.namespace, n.rule.name, n.target.service, n.target.name, n.groupLabels]);
}

export function robotIdOf(
  namespace: string,
  target: { service: string; name: string },
  robot: string,
): RobotId {
  return { namespace, service: target.service, group: target.name, robot };
}
