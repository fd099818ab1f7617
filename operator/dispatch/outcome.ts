import type { GroupMessage } from '../dingtalk/index.ts';
import type { Notification } from './notification.ts';

/** One message on its way: its idempotency key and the notifications it covers. */
export interface OutboundMessage {
  msgUuid: string;
  notifications: Notification[];
  content: GroupMessage;
  attempts: number;
  /** How far a send in several calls (members, 20 per call) has come; the sender keeps it. */
  progress?: unknown;
  /** DingTalk's ids for the calls made so far (the first is recorded). */
  messageIds?: string[];
}

/** What one send achieved. */
export interface SendResult {
  messageId?: string;
  /** Not finished: the message takes another call (and budget slot), not before `notBefore`. */
  more?: { notBefore: number };
}

export interface SendFailure {
  error: string;
  errcode?: string;
  reason: 'Throttled' | 'DingTalkError' | 'QuotaExhausted';
}

/**
 * What a delivery queue reports of a message, in the order it happens. `at` is the queue's clock.
 * - assigned: the message has its msgUuid and is next in line (sent only once this is on record);
 * - attempted: a call for it is about to be made;
 * - progressed: one call of a message in several went through (sent on only once this is on record);
 * - delivered: done;
 * - failed: not delivered this time; `retryAt` when it goes again, undefined when given up;
 * - held: DingTalk refused it for a configuration reason, or the month's quota is spent: it left the
 *   queue to wait for a fix or the next month;
 * - paused: DingTalk throttled the robot; the queue sends nothing until `until`.
 */
export type Outcome =
  | { kind: 'assigned'; message: OutboundMessage }
  | { kind: 'attempted'; message: OutboundMessage; at: number }
  | { kind: 'progressed'; message: OutboundMessage; at: number }
  | { kind: 'delivered'; message: OutboundMessage; result: SendResult; at: number }
  | {
      kind: 'failed';
      message: OutboundMessage;
      failure: SendFailure;
      retryAt: number | undefined;
      at: number;
    }
  | { kind: 'held'; message: OutboundMessage; failure: SendFailure; at: number }
  | { kind: 'paused'; queue: string; until: number };

/**
 * The stage after the delivery queues. `record` resolves once the outcome is on record; a queue goes on
 * only then, except that it builds the next messages while one is sent (their `assigned` outcomes
 * are awaited when each message's turn comes).
 */
export interface OutcomeSink {
  record(outcome: Outcome): Promise<void>;
}
