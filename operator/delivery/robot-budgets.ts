import { createHash } from 'node:crypto';
import { robotToken } from '../dingtalk/index.ts';
import { RateBudget } from './rate-budget.ts';

/**
 * One send budget per group robot, whoever sends through it: alarm notifications (dispatch) and test
 * messages (the service controller) alike, and whichever namespaces share the robot, since DingTalk's
 * limit is per robot. Keyed by a digest of the robot's access_token, so the token is not kept in a key.
 */
export class RobotBudgets {
  readonly #budgets = new Map<string, RateBudget>();
  readonly #limit: number;
  readonly #windowMs: number;

  constructor({ limit, windowMs }: { limit: number; windowMs: number }) {
    this.#limit = limit;
    this.#windowMs = windowMs;
  }

  /** The budget of the robot behind `webhook` (a URL or a bare token); `limit` lowers it for this robot. */
  forRobot(webhook: string, limit = this.#limit): RateBudget {
    const key = createHash('sha256').update(robotToken(webhook)).digest('hex').slice(0, 16);
    let budget = this.#budgets.get(key);
    if (!budget) {
      budget = new RateBudget({ limit: Math.min(limit, this.#limit), windowMs: this.#windowMs });
      this.#budgets.set(key, budget);
    }
    return budget;
  }
}
