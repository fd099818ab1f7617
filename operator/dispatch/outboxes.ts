import type { Logger } from 'pino';
import type { AlarmEventStatus } from '../api/index.ts';
import { RateBudget } from '../delivery/rate-budget.ts';
import { type RobotBudgets, robotKey, type SendBudget } from '../delivery/robot-budgets.ts';
import { RobotHealthBook } from '../delivery/robot-health.ts';
import { chooseRobot } from '../delivery/robot-pool.ts';
import type { DingTalkError } from '../dingtalk/index.ts';
import type { OperatorContext } from '../manager/context.ts';
import { redactUrl } from '../runtime/logger.ts';
import { cacheReader, type PlannedTarget, type ResolvedRobot } from '../targets/index.ts';
import type { Alarm } from './alarm.ts';
import {
  configurationUsage,
  groupOutboxKey,
  memberOutboxKey,
  outboxInUse,
  robotOfOutbox,
} from './configuration-usage.ts';
import type { DeliveryHealth } from './delivery-health.ts';
import { digest, type Notification } from './notification.ts';
import { Outbox } from './outbox.ts';
import type { OutboundMessage, OutcomeSink } from './outcome.ts';
import { robotIdOf, stickyKeyOf } from './pool-routing.ts';
import { progressOf, type ResumedMessage, type Resumption } from './resumption.ts';
import { Sender, senderOf } from './sender.ts';

const APP_CALLS_PER_SECOND = 20;

export interface OutboxesOptions {
  ctx: OperatorContext;
  robotBudgets: RobotBudgets;
  blockMs: number;
  outcomes: OutcomeSink;
  resumption: Resumption;
  health: Pick<DeliveryHealth, 'prune' | 'robotTrouble' | 'robotSent'>;
  logger: Logger;
}

type GroupTarget = Extract<PlannedTarget, { kind: 'Group' }>;

/**
 * The delivery queues: one per tenant's group robot, whichever of the tenant's services send to it,
 * one per tenant's member set, each with its budget. A tenant's queue for a robot keeps within the
 * tenant's own limit and the robot's budget, which every tenant sending through the robot shares
 * (DingTalk's rate limit is per robot), as they share a block DingTalk puts on it. Each notification is sent
 * with the credentials of its own tenant's target, the newest ones known (a rotated Secret applies to
 * the next attempt). A group with a pool of robots sends each alarm group's notifications through the
 * healthy robot robot-pool.ts chooses for it; when DingTalk refuses a robot (robot-health.ts), what its
 * queue holds for the pool moves to the robots chosen now, under the msgUuids it had.
 */
export class Outboxes {
  readonly #options: OutboxesOptions;
  readonly #outboxes = new Map<string, Outbox>();
  readonly #appBudgets = new Map<string, RateBudget>();
  readonly #sender: Sender;
  readonly #robotHealth: RobotHealthBook;

  constructor(options: OutboxesOptions) {
    this.#options = options;
    this.#sender = new Sender(options.ctx);
    this.#robotHealth = new RobotHealthBook({ retryMs: options.blockMs });
  }

  /**
   * The queue for a notification to the target, started on first use: its robot's, or for a pool the
   * robot's its alarm group is given now.
   */
  for(namespace: string, target: PlannedTarget, notification: Notification): Outbox {
    this.#sender.remember(namespace, target);
    let outbox: Outbox;
    let budgets: SendBudget[];
    if (target.kind === 'Group') {
      const robot = this.#robotFor(namespace, target, notification);
      const limit = target.group?.rateLimitPerMinute;
      outbox = this.#groupOutbox(namespace, robot?.webhook ?? '', limit);
      // An earlier run's sends are not on record per robot: each robot of a pool counts them all.
      budgets = target.group?.pool
        ? target.group.robots.map((r) => this.#options.robotBudgets.forRobot(namespace, r.webhook, limit))
        : [outbox.budget];
    } else {
      // A group reached through the app's robot has a queue of its own, on the app's budget.
      const who = target.kind === 'AppGroup' ? `group:${target.name}` : target.identities.join(',');
      const key = memberOutboxKey(namespace, target.service, digest(who));
      outbox = this.#outbox(key, () => this.#appBudget(target.app?.clientId ?? ''));
      budgets = [outbox.budget];
    }
    const recent = {
      record: (at: number) => {
        for (const budget of budgets) budget.record(at);
      },
    };
    this.#options.resumption.countRecentSends(namespace, target, recent, Date.now());
    return outbox;
  }

  /**
   * Brings what is kept per configuration in line with the configuration as it is now: each tenant's
   * budget on a robot takes the lowest limit among its groups sending through it, and the queues, budgets,
   * credentials and health of robots and services no longer configured (deleted, or re-created) go once
   * nothing is queued for them.
   */
  follow(): void {
    const { caches } = this.#options.ctx;
    const usage = configurationUsage(caches.services.list(), cacheReader(caches));
    for (const [key, outbox] of this.#outboxes) {
      if (outboxInUse(key, usage)) continue;
      // A robot taken out of a pool hands what it holds for the pool to the robots chosen now.
      if (!outbox.idle) this.#move(outbox, (n) => this.#poolTargetOf(n) !== undefined);
      if (!outbox.idle) continue;
      this.#outboxes.delete(key);
      void outbox.stop();
    }
    this.#robotHealth.prune((mark) => usage.services.has(`${mark.namespace}/${mark.service}`));
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
      const [first] = notifications;
      if (!first) continue;
      this.for(rule.namespace, target, first).restore(
        msgUuid,
        notifications,
        progressOf(notifications, statusOf),
      );
    }
    return messages.length;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.#outboxes.values()].map((outbox) => outbox.stop()));
  }

  #groupOutbox(namespace: string, webhook: string, limit: number | undefined): Outbox {
    const robot = robotKey(webhook);
    return this.#outbox(
      groupOutboxKey(namespace, webhook),
      () => this.#options.robotBudgets.forRobot(namespace, webhook, limit),
      robot,
    );
  }

  #outbox(key: string, budget: () => SendBudget, robot?: string): Outbox {
    let outbox = this.#outboxes.get(key);
    if (!outbox) {
      outbox = new Outbox({
        name: key,
        budget: budget(),
        blockMs: this.#options.blockMs,
        logger: this.#options.logger,
        outcomes: robot === undefined ? this.#options.outcomes : this.#robotOutcomes(robot),
        senderOf,
        templates: this.#options.ctx.templates,
        send: (message) => this.#sender.send(message, robot),
        ...(robot !== undefined && {
          failover: (message, error) => this.#failover(key, robot, message, error),
        }),
      });
      this.#outboxes.set(key, outbox);
      outbox.start();
    }
    return outbox;
  }

  /** The robot of the target for the notification's alarm group: a pool's chosen one, else the only one. */
  #robotFor(namespace: string, target: GroupTarget, notification: Notification): ResolvedRobot | undefined {
    const group = target.group;
    if (!group?.pool) return group?.robots[0];
    const now = Date.now();
    return chooseRobot(stickyKeyOf(notification), group.robots, (robot) => {
      const id = robotIdOf(namespace, target, robot.name);
      // Blocked by DingTalk whichever tenant's queue it answered: the block is the robot's.
      const blocked = this.#options.robotBudgets.blocked(robot.webhook, now);
      return !blocked && this.#robotHealth.healthy(id, robot, now);
    });
  }

  /** The sender's newest pool target, when the notification goes to a pool. */
  #poolTargetOf(n: Notification): { namespace: string; target: GroupTarget } | undefined {
    const known = this.#sender.targetOf(n);
    return known?.target.kind === 'Group' && known.target.group?.pool
      ? { namespace: known.namespace, target: known.target }
      : undefined;
  }

  /**
   * DingTalk refused the robot behind `robot` (its key; `from` its queue) for a message to a pool: the robot is marked
   * for the tenant, and the message goes to the robot its alarm group is given now, followed by
   * whatever else the queue held for pools that now route elsewhere. False when no other robot of the
   * pool is healthy: the queue then handles the refusal as for a single robot.
   */
  #failover(from: string, robot: string, message: OutboundMessage, error: DingTalkError): boolean {
    const [first] = message.notifications;
    const pool = first && this.#poolTargetOf(first);
    if (!first || !pool) return false;
    const { namespace, target } = pool;
    const failing = target.group?.robots.find((r) => robotKey(r.webhook) === robot);
    if (failing) {
      const failure = {
        errcode: error.errcode === undefined ? undefined : String(error.errcode),
        message: redactUrl(error.errmsg ?? error.message),
      };
      const now = Date.now();
      const mark = this.#robotHealth.failed(
        robotIdOf(namespace, target, failing.name),
        failing,
        failure,
        now,
      );
      if (!mark) return false;
      this.#options.health.robotTrouble(mark, now);
    }
    const next = this.for(namespace, target, first);
    if (next.name === from) return false;
    next.restore(message.msgUuid, message.notifications, message.progress);
    const source = this.#outboxes.get(from);
    if (source) this.#move(source, (n) => this.#routesElsewhere(n, from));
    return true;
  }

  #routesElsewhere(n: Notification, from: string): boolean {
    const pool = this.#poolTargetOf(n);
    if (!pool) return false;
    const robot = this.#robotFor(pool.namespace, pool.target, n);
    return robot !== undefined && groupOutboxKey(pool.namespace, robot.webhook) !== from;
  }

  /** Moves what `moves` picks out of the queue to the queues chosen for it now, in order. */
  #move(outbox: Outbox, moves: (n: Notification) => boolean): void {
    const taken = outbox.take(moves);
    for (const message of taken.messages) {
      const [first] = message.notifications;
      const known = first && this.#sender.targetOf(first);
      if (first && known)
        this.for(known.namespace, known.target, first).restore(
          message.msgUuid,
          message.notifications,
          message.progress,
        );
    }
    for (const n of taken.queued) {
      const known = this.#sender.targetOf(n);
      if (known) this.for(known.namespace, known.target, n).enqueue(n);
    }
  }

  /** What a robot's queue reports, with a pool's robot found healthy again once DingTalk takes a message. */
  #robotOutcomes(robot: string): OutcomeSink {
    return {
      record: (outcome) => {
        const [first] = outcome.kind === 'delivered' ? outcome.message.notifications : [];
        const pool = first && this.#poolTargetOf(first);
        const delivered = pool?.target.group?.robots.find((r) => robotKey(r.webhook) === robot);
        if (pool && delivered && outcome.kind === 'delivered') {
          const id = robotIdOf(pool.namespace, pool.target, delivered.name);
          this.#robotHealth.succeeded(id);
          this.#options.health.robotSent(id, outcome.at);
        }
        return this.#options.outcomes.record(outcome);
      },
    };
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
