import { type RobotUse, tenantRobotKey } from '../delivery/robot-budgets.ts';
import type { CustomObject } from '../manager/context.ts';
import { planTargets, type ReferenceReader } from '../targets/index.ts';

/** What the configuration, as it is now, sends through: what dispatch may keep state for. */
export interface ConfigurationUsage {
  /** Every robot of a group with usable credentials, with its namespace and the rate limit its service sets. */
  robots: RobotUse[];
  /** The tenant robot keys (robot-budgets.ts) of those robots: namespace and robot. */
  robotKeys: Set<string>;
  /** Every DingTalkService, by namespace/name. */
  services: Set<string>;
  /** The clientIds of the apps member sets and groups reached through an app's robot send through. */
  apps: Set<string>;
}

export function configurationUsage(
  services: Iterable<Readonly<CustomObject>>,
  reader: ReferenceReader,
): ConfigurationUsage {
  const usage: ConfigurationUsage = {
    robots: [],
    robotKeys: new Set(),
    services: new Set(),
    apps: new Set(),
  };
  for (const raw of services) {
    const { namespace = '', name = '' } = raw.metadata ?? {};
    usage.services.add(`${namespace}/${name}`);
    for (const target of planTargets(namespace, [{ name }], { service: () => raw }, reader)) {
      if (target.kind === 'Group' && target.group) {
        for (const { webhook } of target.group.robots) {
          usage.robots.push({ namespace, webhook, limit: target.group.rateLimitPerMinute });
          usage.robotKeys.add(tenantRobotKey(namespace, webhook));
        }
      } else if (target.kind !== 'Group' && target.app) {
        usage.apps.add(target.app.clientId);
      }
    }
  }
  return usage;
}

/** One tenant's queue for a group robot, keyed by its namespace and the robot. */
export function groupOutboxKey(namespace: string, webhook: string): string {
  return `group:${tenantRobotKey(namespace, webhook)}`;
}

/** The queue of one tenant's member set, keyed by its namespace, service and members. */
export function memberOutboxKey(namespace: string, service: string, membersDigest: string): string {
  return `member:${namespace}/${service}:${membersDigest}`;
}

/** The tenant robot key of a group robot's queue; undefined for a member set's. */
export function robotOfOutbox(key: string): string | undefined {
  return key.startsWith('group:') ? key.slice('group:'.length) : undefined;
}

/** True while the configuration still sends through the queue's robot or service. */
export function outboxInUse(key: string, usage: ConfigurationUsage): boolean {
  const robot = robotOfOutbox(key);
  if (robot !== undefined) return usage.robotKeys.has(robot);
  // Kubernetes names hold neither '/' nor ':'.
  const [, namespace, service] = /^member:([^/]*)\/([^:]*):/.exec(key) ?? [];
  return usage.services.has(`${namespace}/${service}`);
}
