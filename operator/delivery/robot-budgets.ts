import { createHash } from 'node:crypto';
import { robotToken } from '../dingtalk/index.ts';
import { RateBudget } from './rate-budget.ts';

/** A group that sends through a robot, with the rate limit its service sets for it. */
export interface RobotUse {
  /** The whole webhook URL or its bare access_token. */
  webhook: string;
  limit: number;
}

/**
 * One send budget per group robot, whoever sends through it: alarm notifications (dispatch) and test
 * messages (the service controller) alike, and whichever namespaces share the robot, since DingTalk's
 * limit is per robot. Keyed by a digest of the robot's access_token, so the token is not kept in a key.
 * A budget's limit follows the configuration (`configure`): the lowest limit among the groups now
 * sending through the robot, so a lowered or a second, stricter tenant's limit applies at once.
 */
export class RobotBudgets {
  readonly #budgets = new Map<string, RateBudget>();
  /** The lowest limit per robot key, as the configuration last said. */
  #limits = new Map<string, number>();
  readonly #limit: number;
  readonly #windowMs: number;

  constructor({ limit, windowMs }: { limit: number; windowMs: number }) {
    this.#limit = limit;
    this.#windowMs = windowMs;
  }

  /**
   * The budget of the robot behind `webhook` (a URL or a bare token). `limit`, the caller's group's,
   * applies to a robot the configuration has not named yet.
   */
  forRobot(webhook: string, limit = this.#limit): RateBudget {
    const key = robotKey(webhook);
    let budget = this.#budgets.get(key);
    if (!budget) {
      budget = new RateBudget({ limit: this.#limitOf(key, limit), windowMs: this.#windowMs });
      this.#budgets.set(key, budget);
    }
    return budget;
  }

  /**
   * Takes the groups the configuration now sends through: each robot's budget gets the lowest of their
   * limits. The budget of a robot no longer used goes once nothing counts against it, unless `retain`
   * (robot keys) says a queue still holds it.
   */
  configure(uses: Iterable<RobotUse>, now: number, retain: ReadonlySet<string> = new Set()): void {
    const limits = new Map<string, number>();
    for (const { webhook, limit } of uses) {
      const key = robotKey(webhook);
      limits.set(key, Math.min(limits.get(key) ?? limit, limit));
    }
    this.#limits = limits;
    for (const [key, budget] of this.#budgets) {
      if (limits.has(key)) budget.limit = this.#limitOf(key);
      else if (!retain.has(key) && budget.idle(now)) this.#budgets.delete(key);
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
