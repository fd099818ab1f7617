import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { SendBudget } from '../delivery/robot-budgets.ts';
import {
  type DingTalkError,
  isConfigurationRefusal,
  isDingTalkError,
  isQuotaExhaustion,
} from '../dingtalk/index.ts';
import type { TemplateRenderer } from '../rules/templates.ts';
import { backoffDelay } from '../runtime/backoff.ts';
import type { Notification } from './notification.ts';
import type { OutboundMessage, OutcomeSink, SendFailure, SendResult } from './outcome.ts';
import { MAX_TEXT_BYTES, packDigest, renderNotification } from './render.ts';

export type Send = (message: OutboundMessage) => Promise<SendResult>;

export interface OutboxOptions {
  name: string;
  budget: SendBudget;
  send: Send;
  /** Who a notification is sent as (tenant and target): a message only carries one sender's notifications. */
  senderOf: (notification: Notification) => string;
  /** Renders the rules' templates of notifications sent on their own. */
  templates: TemplateRenderer;
  /** Where the queue hands what became of each message: the ledger. */
  outcomes: OutcomeSink;
  logger: Logger;
  /** How long a robot stays blocked after DingTalk said it sends too fast. */
  blockMs: number;
  /**
   * DingTalk refused the message for a reason of the robot's (blocked, disabled, removed, refused):
   * true when the hook gave the message to another robot of its pool, which sends it under the same
   * msgUuid; the queue then lets go of it. Only refusals move a message: one whose fate is unknown
   * (a timeout) is retried where it is, so it is never shown twice.
   */
  failover?: (message: OutboundMessage, error: DingTalkError) => boolean;
  maxAttempts?: number;
  now?: () => number;
}

const SEND_BACKOFF = { initialMs: 1_000, maxMs: 60_000, jitter: 0.2 };
/** Messages built ahead of the one being sent. */
const ASSIGN_AHEAD = 8;

/**
 * One target's queue (a group robot, or an app robot's members). Sends one message at a time, spends the
 * rate budget deliberately and never beyond it: while the queue is no longer than the sends left in
 * the window, each notification goes out on its own; once it is longer, everything queued is merged
 * into digests, so a storm costs a handful of messages and no alarm is dropped. A throttle answer
 * pauses the target for the block period; transient errors back off; the queue is kept either way, and
 * every attempt of a message carries the same msgUuid. What becomes of each message goes downstream as
 * an outcome (outcome.ts); the queue keeps no ledger and reaches back to nobody.
 */
export class Outbox {
  readonly name: string;
  readonly #options: OutboxOptions;
  readonly #log: Logger;
  readonly #queue: Notification[] = [];
  /** Each notification's sender, worked out once: a storm's queue is filtered by sender for every digest. */
  readonly #senders = new WeakMap<Notification, string>();
  /** Messages a previous run had assigned a msgUuid to; sent first, under the recorded msgUuid. */
  readonly #pinned: Omit<OutboundMessage, 'content'>[] = [];
  /** Built, in sending order, each with the write of its msgUuid to the ledger under way. */
  readonly #ahead: { message: OutboundMessage; recorded: Promise<void> }[] = [];
  #current: OutboundMessage | undefined;
  #notBefore = 0;
  /** Until when DingTalk blocks the robot for sending too fast. */
  #blockedUntil = 0;
  #wake: (() => void) | undefined;
  #stopped = false;
  #loop: Promise<void> | undefined;

  constructor(options: OutboxOptions) {
    this.name = options.name;
    this.#options = options;
    this.#log = options.logger.child({ outbox: options.name });
  }

  get budget(): SendBudget {
    return this.#options.budget;
  }

  get depth(): number {
    return (
      this.#queue.reduce((n, item) => n + item.alarms.length, 0) +
      (this.#current ? 1 : 0) +
      this.#ahead.length +
      this.#pinned.length
    );
  }

  /** True while DingTalk blocks the robot for sending too fast. */
  blocked(now: number): boolean {
    return this.#blockedUntil > now;
  }

  /**
   * Takes out what `moves` says goes elsewhere (a pool's robot failed): messages already numbered, in
   * sending order, with their msgUuid, and notifications still queued. The message being sent stays.
   */
  take(moves: (notification: Notification) => boolean): {
    messages: Omit<OutboundMessage, 'content'>[];
    queued: Notification[];
  } {
    const movesAll = (m: { notifications: Notification[] }) => m.notifications.every(moves);
    const ahead = this.#ahead.filter((a) => movesAll(a.message));
    const pinned = this.#pinned.filter(movesAll);
    const queued = this.#queue.filter(moves);
    const keep = <T>(list: T[], taken: T[]) =>
      list.splice(0, list.length, ...list.filter((x) => !taken.includes(x)));
    keep(this.#ahead, ahead);
    keep(this.#pinned, pinned);
    keep(this.#queue, queued);
    // Rendered again when their turn comes in the queue they go to, as restored messages are.
    const messages = [...ahead.map((a) => a.message), ...pinned].map(
      ({ msgUuid, notifications, progress }) => ({ msgUuid, notifications, progress, attempts: 0 }),
    );
    return { messages, queued };
  }

  /** Nothing queued and no pause to keep: forgetting the queue loses nothing. */
  get idle(): boolean {
    return this.depth === 0 && this.#notBefore <= (this.#options.now ?? Date.now)();
  }

  /** The senders (tenant and target) of everything the queue holds, whose credentials it still needs. */
  senders(): Set<string> {
    const messages = [...this.#pinned, ...this.#ahead.map((a) => a.message), this.#current];
    const notifications = [...this.#queue, ...messages.flatMap((m) => m?.notifications ?? [])];
    return new Set(notifications.map((n) => this.#senderOf(n)));
  }

  enqueue(notification: Notification): void {
    this.#queue.push(notification);
    this.#poke();
  }

  /** Re-sends a message recorded by a previous run under its msgUuid, going on from `progress`. */
  restore(msgUuid: string, notifications: Notification[], progress?: unknown): void {
    // Rendered when its turn comes, as rendering waits for the template pool.
    this.#pinned.push({ msgUuid, notifications, attempts: 0, progress });
    this.#poke();
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#poke();
    await this.#loop;
  }

  /**
   * The queue's one loop. Whatever a stage throws unexpectedly (the ledger, rendering) is caught here:
   * an unhandled rejection would end the process and with it every tenant's deliveries. The queue
   * keeps what it holds and goes on after a backoff that grows while the failures go on.
   */
  async #run(): Promise<void> {
    const now = this.#options.now ?? Date.now;
    let failures = 0;
    while (!this.#stopped) {
      try {
        if (await this.#turn(now)) failures = 0;
      } catch (err) {
        failures++;
        const retryInMs = backoffDelay(failures, SEND_BACKOFF);
        this.#log.error({ err, retryInMs }, 'outbox failed unexpectedly; going on after a pause');
        this.#notBefore = Math.max(this.#notBefore, now() + retryInMs);
      }
    }
  }

  /** One step of the loop; true once a message was attempted. */
  async #turn(now: () => number): Promise<boolean> {
    const hasWork =
      this.#current !== undefined ||
      this.#ahead.length > 0 ||
      this.#pinned.length > 0 ||
      this.#queue.length > 0;
    if (!hasWork) {
      await this.#idle();
      return false;
    }
    const readyAt = Math.max(this.#notBefore, this.#options.budget.nextSlotAt(now()));
    if (readyAt > now()) {
      await this.#idle(readyAt - now());
      return false;
    }
    await this.#assignAhead(now);
    if (!this.#current) {
      const next = this.#ahead.shift();
      if (!next) return false;
      // Current before the wait, so a failed ledger write does not lose the message.
      this.#current = next.message;
      await next.recorded;
    }
    await this.#attempt(this.#current, now);
    return true;
  }

  /**
   * Builds the next messages while earlier ones are sent, each with its msgUuid on its way to the
   * ledger, so that sends to a robot with budget to spare wait for one ledger write, not one each.
   * Only as many as the budget could send now, so a storm still packs what arrives into digests.
   */
  async #assignAhead(now: () => number): Promise<void> {
    while (this.#ahead.length < ASSIGN_AHEAD) {
      const committed = this.#ahead.length + (this.#current ? 1 : 0);
      const slots = this.#options.budget.available(now()) - committed;
      if (slots <= 0 && committed > 0) return;
      const pinned = this.#pinned[0];
      const message = pinned ? await this.#restored(pinned) : await this.#fromQueue(Math.max(1, slots));
      if (!message) return;
      const recorded =
        message.attempts === 0
          ? this.#options.outcomes.record({ kind: 'assigned', message })
          : Promise.resolve();
      // Awaited when the message's turn comes; until then a rejection must not count as unhandled.
      recorded.catch(() => undefined);
      this.#ahead.push({ message, recorded });
    }
  }

  /** A restored message, rendered as it was first: alone when it carried one notification, else a digest. */
  async #restored(pinned: Omit<OutboundMessage, 'content'>): Promise<OutboundMessage> {
    const { notifications } = pinned;
    const content =
      notifications.length === 1
        ? await renderNotification(
            notifications[0] as Notification,
            this.#options.templates,
            Number.POSITIVE_INFINITY,
          )
        : undefined;
    // Taken off only now: until then it counts as held (depth, senders).
    this.#pinned.shift();
    return { ...pinned, content: content ?? packDigest(notifications, Number.POSITIVE_INFINITY).message };
  }

  async #fromQueue(slots: number): Promise<OutboundMessage | undefined> {
    if (this.#queue.length === 0) return undefined;
    if (this.#queue.length <= slots) {
      const single = this.#queue[0] as Notification;
      // Only this loop takes from the queue, so the first in line is still first after the render.
      const content = await renderNotification(single, this.#options.templates);
      if (content) {
        this.#queue.shift();
        return { msgUuid: randomUUID(), notifications: [single], content, attempts: 0 };
      }
    }
    // A digest carries the notifications of the first in line's sender; the other senders' come next.
    const sender = this.#senderOf(this.#queue[0] as Notification);
    const mine = this.#queue.filter((n) => this.#senderOf(n) === sender);
    const others = this.#queue.filter((n) => this.#senderOf(n) !== sender);
    const part = packDigest(mine, MAX_TEXT_BYTES);
    this.#queue.splice(0, this.#queue.length, ...others, ...part.rest);
    if (part.taken.length === 0) return undefined;
    return { msgUuid: randomUUID(), notifications: part.taken, content: part.message, attempts: 0 };
  }

  #senderOf(notification: Notification): string {
    let sender = this.#senders.get(notification);
    if (sender === undefined) {
      sender = this.#options.senderOf(notification);
      this.#senders.set(notification, sender);
    }
    return sender;
  }

  async #attempt(message: OutboundMessage, now: () => number): Promise<void> {
    const { budget, outcomes, send } = this.#options;
    message.attempts++;
    await outcomes.record({ kind: 'attempted', message, at: now() });
    const finish = budget.begin();
    try {
      const result = await send(message);
      finish(now());
      if (result.more) {
        // The next call waits for its own budget slot; its failures get their own retries.
        await outcomes.record({ kind: 'progressed', message, at: now() });
        message.attempts = 0;
        this.#notBefore = result.more.notBefore;
        return;
      }
      await outcomes.record({ kind: 'delivered', message, result, at: now() });
      this.#current = undefined;
    } catch (err) {
      finish(now());
      await this.#failed(message, err, now());
    }
  }

  async #failed(message: OutboundMessage, err: unknown, at: number): Promise<void> {
    const { outcomes } = this.#options;
    const errorClass = isDingTalkError(err) ? err.errorClass : 'transient';
    const failure: SendFailure = {
      error: err instanceof Error ? err.message : String(err),
      errcode: isDingTalkError(err) && err.errcode !== undefined ? String(err.errcode) : undefined,
      reason: errorClass === 'throttled' ? 'Throttled' : 'DingTalkError',
    };
    if (isDingTalkError(err) && this.#options.failover?.(message, err)) {
      this.#current = undefined;
      if (errorClass === 'throttled') this.#block(at);
      this.#log.warn(
        { errcode: failure.errcode },
        "DingTalk refused the robot; the message went to another of its pool's robots",
      );
      await outcomes.record({ kind: 'failed', message, failure, retryAt: at, at });
      return;
    }
    if (isDingTalkError(err) && isConfigurationRefusal(err)) {
      this.#log.warn({ errcode: failure.errcode }, 'DingTalk refused the configuration; holding the message');
      this.#current = undefined;
      await outcomes.record({ kind: 'held', message, failure, at });
      return;
    }
    // Retrying before the month turns would only be refused again: the message waits with the held ones.
    if (isDingTalkError(err) && isQuotaExhaustion(err)) {
      this.#log.warn(
        { errcode: failure.errcode },
        "the month's DingTalk quota is spent; holding the message",
      );
      this.#current = undefined;
      await outcomes.record({ kind: 'held', message, failure: { ...failure, reason: 'QuotaExhausted' }, at });
      return;
    }
    const exhausted = message.attempts >= (this.#options.maxAttempts ?? 50);
    if (errorClass === 'permanent' || errorClass === 'auth' || exhausted) {
      this.#log.warn(
        { errcode: failure.errcode, attempts: message.attempts },
        'message not delivered; giving up',
      );
      this.#current = undefined;
      await outcomes.record({ kind: 'failed', message, failure, retryAt: undefined, at });
      return;
    }
    if (errorClass === 'throttled') {
      this.#block(at);
      await outcomes.record({ kind: 'paused', queue: this.name, until: this.#notBefore });
      this.#log.warn(
        { until: new Date(this.#notBefore).toISOString() },
        'DingTalk throttled the robot; pausing it',
      );
    } else {
      this.#notBefore = at + backoffDelay(message.attempts, SEND_BACKOFF);
    }
    await outcomes.record({ kind: 'failed', message, failure, retryAt: this.#notBefore, at });
  }

  #block(at: number): void {
    this.#blockedUntil = at + this.#options.blockMs;
    this.#notBefore = Math.max(this.#notBefore, this.#blockedUntil);
    // Other namespaces' queues for the robot (and test messages) share the block.
    this.#options.budget.pause(this.#blockedUntil);
  }

  #idle(ms?: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(timer);
        self.#wake = undefined;
        resolve();
      }
      this.#wake = done;
    });
  }

  #poke(): void {
    this.#wake?.();
  }
}
