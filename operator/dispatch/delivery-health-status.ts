import type { Severity, TargetKind } from '../api/index.ts';
import type { RobotMark } from '../delivery/robot-health.ts';
import { timestamp } from './ledger.ts';

/** What dispatch keeps of each object's delivery health (delivery-health.ts), and its status shape. */

export interface Outcome {
  time: string;
  result: 'Succeeded' | 'Failed' | 'Throttled';
  errcode?: string;
  message?: string;
}

/** Whose health it is: counters belong to one object, not to whatever later bears its name. */
export interface Owned {
  uid?: string;
}

export interface ServiceHealth extends Owned {
  deliveries: { sent: number; throttled: number; failed: number; suppressed: number };
  lastSuccess?: { time: string; target: { kind: TargetKind; name: string } };
  lastFailure?: {
    time: string;
    target: { kind: TargetKind; name: string };
    errcode?: string;
    message?: string;
  };
  groups: Map<string, GroupHealth>;
  member?: { lastDelivery?: Outcome };
  /** Groups reached through the app's robot, by name. */
  appGroups: Map<string, { lastDelivery?: Outcome }>;
}

export interface GroupHealth {
  lastDelivery?: Outcome;
  throttledUntil?: string;
  /** A pool's robots, by name. */
  robots?: Map<string, PoolRobotHealth>;
}

export interface PoolRobotHealth {
  trouble?: RobotMark;
  lastDelivery?: Outcome;
}

export interface RuleHealth extends Owned {
  counters: { matched: number; notified: number; suppressed: number; failed: number };
  lastFired?: { time: string; alarmEvent?: string; severity?: Severity };
}

/** The owner's uid is no status field. */
export function ruleStatus(health: RuleHealth | undefined) {
  if (!health) return {};
  return { counters: health.counters, ...(health.lastFired && { lastFired: health.lastFired }) };
}

export function serviceStatus(
  health: ServiceHealth | undefined,
  specGroups: ReadonlyMap<string, ReadonlySet<string>>,
  specAppGroups: ReadonlySet<string>,
) {
  if (!health) return {};
  for (const name of health.appGroups.keys()) if (!specAppGroups.has(name)) health.appGroups.delete(name);
  const appGroups = [...health.appGroups].map(([name, group]) => ({ name, ...group }));
  for (const name of health.groups.keys()) if (!specGroups.has(name)) health.groups.delete(name);
  const groups = [...health.groups].map(([name, { robots, ...group }]) => {
    const pool = specGroups.get(name);
    for (const robot of robots?.keys() ?? []) if (!pool?.has(robot)) robots?.delete(robot);
    const entries = [...(robots ?? [])].map(([robot, { trouble, lastDelivery }]) =>
      robotStatus(robot, trouble, lastDelivery),
    );
    return { name, ...group, ...(entries.length > 0 && { robots: entries }) };
  });
  const delivery = {
    ...(groups.length > 0 && { groups }),
    ...(health.member && { member: health.member }),
    ...(appGroups.length > 0 && { appGroups }),
  };
  return {
    deliveries: health.deliveries,
    ...(health.lastSuccess && { lastSuccess: health.lastSuccess }),
    ...(health.lastFailure && { lastFailure: health.lastFailure }),
    ...(Object.keys(delivery).length > 0 && { delivery }),
  };
}

/** A pool robot's entry: healthy unless marked; the mark's times as status timestamps. */
function robotStatus(name: string, trouble: RobotMark | undefined, lastDelivery: Outcome | undefined) {
  return {
    name,
    healthy: trouble === undefined,
    ...(trouble && {
      reason: trouble.trouble,
      ...(trouble.errcode !== undefined && { errcode: trouble.errcode }),
      ...(trouble.message !== undefined && { message: trouble.message }),
      since: timestamp(trouble.since),
      retryAt: timestamp(trouble.retryAt),
    }),
    ...(lastDelivery && { lastDelivery }),
  };
}
