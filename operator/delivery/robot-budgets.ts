import { createHash } from 'node:crypto';
import { robotToken } from '../dingtalk/index.ts';
import { RateBudget } from './rate-budget.ts';

/** A group robot sent through, with the namespace of its service and the rate limit it sets. */
export interface RobotUse {
  namespace: string;
  /** The whole webhook URL or its bare access_token. */
  webhook: string;
  limit: number;
}

/** What a sender takes a slot from: a RateBudget, or a tenant's share of a robot (TenantRobotBudget). */
export type SendBudget = Pick<RateBudget, 'available' | 'nextSlotAt' | 'begin' | 'record' | 'pause'>;

/**
 * One tenant's sends through one robot: a slot is free when both the tenant's own limit and the robot's
 * budget have one, and each send counts against both.
 */
export class TenantRobotBudget implements SendBudget {
  /** The tenant's limit: the lowest rateLimitPerMinute among its groups on the robot. */
  readonly own: RateBudget;
  /** The robot's, shared by every tenant sending through it (DingTalk counts per robot). */
  readonly robot: RateBudget;

  constructor(own: RateBudget, robot: RateBudget) {
    this.own = own;
    this.robot = robot;
  }

  available(now: number): number {
    return Math.min(this.own.available(now), this.robot.available(now));
  }

  nextSlotAt(now: number): number {
    return Math.max(this.own.nextSlotAt(now), this.robot.nextSlotAt(now));
  }

  begin(): (finishedAt: number) => void {
    const own = this.own.begin();
    const robot = this.robot.begin();
    return (finishedAt) => {
      own(finishedAt);
      robot(finishedAt);
    };
  }

  record(at: number): void {
    this.own.record(at);
    this.robot.record(at);
  }

  /** DingTalk blocks the robot, not one tenant's use of it: every tenant's sends through it wait. */
  pause(until: number): void {
    this.robot.pause(until);
  }
}

/**
 * The send budgets of group robots, whoever sends through them: alarm notifications (dispatch) and test
 * messages (the service controller) alike. DingTalk's limit is per robot, so every tenant sending
 * through a robot shares its budget, at the operator-wide limit, and a block DingTalk puts on the robot
 * holds them all. A service's lower rateLimitPerMinute bounds its own namespace's sends only: keyed by
 * namespace and robot, one tenant naming another's robot token with a lower limit cannot slow the
 * other's alarms. Keys hold a digest of the access_token, never the token. Limits follow the
 * configuration (`configure`), so a lowered limit applies at once.
 */
export class RobotBudgets {
  /** By robot key. */
  readonly #robots = new Map<string, RateBudget>();
  /** By tenant robot key (tenantRobotKey). */
  readonly #tenants = new Map<string, TenantRobotBudget>();
  /** The lowest limit per tenant robot key, as the configuration last said. */
  #limits = new Map<string, number>();
  readonly #limit: number;
  readonly #windowMs: number;

  constructor({ limit, windowMs }: { limit: number; windowMs: number }) {
    this.#limit = limit;
    this.#windowMs = windowMs;
  }

  /**
   * The budget of `namespace`'s sends through the robot behind `webhook` (a URL or a bare token).
   * `limit`, the caller's group's, applies to a robot the configuration has not named for the namespace yet.
   */
  forRobot(namespace: string, webhook: string, limit = this.#limit): TenantRobotBudget {
    const key = tenantRobotKey(namespace, webhook);
    let budget = this.#tenants.get(key);
    if (!budget) {
      const robot = robotKey(webhook);
      let shared = this.#robots.get(robot);
      if (!shared) {
        shared = new RateBudget({ limit: this.#limit, windowMs: this.#windowMs });
        this.#robots.set(robot, shared);
      }
      const own = new RateBudget({ limit: this.#limitOf(key, limit), windowMs: this.#windowMs });
      budget = new TenantRobotBudget(own, shared);
      this.#tenants.set(key, budget);
    }
    return budget;
  }

  /** True while DingTalk blocks the robot behind `webhook`, whichever tenant's send it refused. */
  blocked(webhook: string, now: number): boolean {
    return this.#robots.get(robotKey(webhook))?.paused(now) ?? false;
  }

  /**
   * Takes the groups the configuration now sends through: each tenant's budget on a robot gets the
   * lowest of its groups' limits there. A budget no longer used goes once nothing counts against it,
   * unless `retain` (tenant robot keys) says a queue still holds it; a robot's once no tenant's is left
   * and no block holds it.
   */
  configure(uses: Iterable<RobotUse>, now: number, retain: ReadonlySet<string> = new Set()): void {
    const limits = new Map<string, number>();
    for (const { namespace, webhook, limit } of uses) {
      const key = tenantRobotKey(namespace, webhook);
      limits.set(key, Math.min(limits.get(key) ?? limit, limit));
    }
    this.#limits = limits;
    for (const [key, budget] of this.#tenants) {
      if (limits.has(key)) budget.own.limit = this.#limitOf(key);
      else if (!retain.has(key) && budget.own.idle(now)) this.#tenants.delete(key);
    }
    const shared = new Set([...this.#tenants.values()].map((budget) => budget.robot));
    for (const [key, robot] of this.#robots) {
      if (!shared.has(robot) && robot.idle(now)) this.#robots.delete(key);
    }
  }

  #limitOf(key: string, fallback = this.#limit): number {
    return Math.min(this.#limits.get(key) ?? fallback, this.#limit);
  }
}

/** The key of the robot behind a webhook URL or bare token: a digest, so no key carries the token. */
export function robotKey(webhook: string): string {
  return createHash('sha256').update(robotToken(webhook)).digest('hex').slice(0, 16);
}

/** The key of one namespace's sends through a robot (Kubernetes names hold no '/'). */
export function tenantRobotKey(namespace: string, webhook: string): string {
  return `${namespace}/${robotKey(webhook)}`;
}
