import type { Logger } from 'pino';
import type { AlarmEventStatus } from '../api/index.ts';
import { RateBudget } from '../delivery/rate-budget.ts';
import type { RobotBudgets } from '../delivery/robot-budgets.ts';
import type { OperatorContext } from '../manager/context.ts';
import { cacheReader, type PlannedTarget } from '../targets/index.ts';
import type { Alarm } from './alarm.ts';
import {
  configurationUsage,
  groupOutboxKey,
  memberOutboxKey,
  outboxInUse,
  robotOfOutbox,
} from './configuration-usage.ts';
import type { DeliveryHealth } from './delivery-health.ts';
import { digest } from './notification.ts';
import { Outbox } from './outbox.ts';
import type { OutcomeSink } from './outcome.ts';
import { progressOf, type ResumedMessage, type Resumption } from './resumption.ts';
import { Sender, senderOf } from './sender.ts';

const APP_CALLS_PER_SECOND = 20;

export interface OutboxesOptions {
  ctx: OperatorContext;
  robotBudgets: RobotBudgets;
  blockMs: number;
  outcomes: OutcomeSink;
  resumption: Resumption;
  health: Pick<DeliveryHealth, 'prune'>;
  logger: Logger;
}

/**
 * The delivery queues: one per group robot, whichever tenants and services send to it (DingTalk's rate
 * limit is per robot), one per tenant's member set, each with its budget. Each notification is sent
 * with the credentials of its own tenant's target, the newest ones known (a rotated Secret applies to
 * the next attempt).
 */
export class Outboxes {
  readonly #options: OutboxesOptions;
  readonly #outboxes = new Map<string, Outbox>();
  readonly #appBudgets = new Map<string, RateBudget>();
  readonly #sender: Sender;

  constructor(options: OutboxesOptions) {
    this.#options = options;
    this.#sender = new Sender(options.ctx);
  }

  /** The queue of the target's robot, started on first use. */
  for(namespace: string, target: PlannedTarget): Outbox {
    const key =
      target.kind === 'Group'
        ? groupOutboxKey(target.group?.webhook ?? '')
        : memberOutboxKey(namespace, target.service, digest(target.identities.join(',')));
    this.#sender.remember(namespace, target);
    let outbox = this.#outboxes.get(key);
    if (!outbox) {
      const budget =
        target.kind === 'Group'
          ? this.#options.robotBudgets.forRobot(target.group?.webhook ?? '', target.group?.rateLimitPerMinute)
          : this.#appBudget(target.app?.clientId ?? '');
      outbox = new Outbox({
        name: key,
        budget,
        blockMs: this.#options.blockMs,
        logger: this.#options.logger,
        outcomes: this.#options.outcomes,
        senderOf,
        templates: this.#options.ctx.templates,
        send: (message) => this.#sender.send(message),
      });
      this.#outboxes.set(key, outbox);
      outbox.start();
    }
    this.#options.resumption.countRecentSends(namespace, target, outbox.budget, Date.now());
    return outbox;
  }

  /**
   * Brings what is kept per configuration in line with the configuration as it is now: each robot's
   * budget takes the lowest limit among the groups sending through it, and the queues, budgets,
   * credentials and health of robots and services no longer configured (deleted, or re-created) go once
   * nothing is queued for them.
   */
  follow(): void {
    const { caches } = this.#options.ctx;
    const usage = configurationUsage(caches.services.list(), cacheReader(caches));
    for (const [key, outbox] of this.#outboxes) {
      if (!outbox.idle || outboxInUse(key, usage)) continue;
      this.#outboxes.delete(key);
      void outbox.stop();
    }
    const outboxes = [...this.#outboxes.values()];
    const queuedRobots = [...this.#outboxes.keys()].map(robotOfOutbox).filter((k) => k !== undefined);
    this.#options.robotBudgets.configure(usage.robots, Date.now(), new Set(queuedRobots));
    for (const [clientId, budget] of this.#appBudgets) {
      if (!usage.apps.has(clientId) && !outboxes.some((o) => o.budget === budget))
        this.#appBudgets.delete(clientId);
    }
    const queued = new Set(outboxes.flatMap((o) => [...o.senders()]));
    this.#sender.prune((namespace, service) => usage.services.has(`${namespace}/${service}`), queued);
    this.#options.health.prune();
  }

  /** Sends what the ledger had underway again, under its msgUuids; returns how many messages. */
  resume(
    messages: readonly ResumedMessage[],
    statusOf: (alarm: Alarm) => AlarmEventStatus | undefined,
  ): number {
    for (const { msgUuid, rule, target, notifications } of messages) {
      this.for(rule.namespace, target).restore(msgUuid, notifications, progressOf(notifications, statusOf));
    }
    return messages.length;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.#outboxes.values()].map((outbox) => outbox.stop()));
  }

  /**
   * One budget per app, shared by every member set that sends through it: each batchSend call takes a
   * slot, within DingTalk's documented 20 calls per second per app and API.
   */
  #appBudget(clientId: string): RateBudget {
    let budget = this.#appBudgets.get(clientId);
    if (!budget) {
      budget = new RateBudget({ limit: APP_CALLS_PER_SECOND, windowMs: 1_000, marginMs: 100 });
      this.#appBudgets.set(clientId, budget);
    }
    return budget;
  }
}
