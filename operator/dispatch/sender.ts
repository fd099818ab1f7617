import { DingTalkConditionReason } from '../api/index.ts';
import { robotKey } from '../delivery/robot-budgets.ts';
import {
  DingTalkError,
  DingTalkErrorCode,
  isConfigurationRefusal,
  memberMessageOf,
} from '../dingtalk/index.ts';
import { chunkUserIds } from '../dingtalk/member-message.ts';
import type { OperatorContext } from '../manager/context.ts';
import { recordCall } from '../quota/billing.ts';
import { memberIdentity, type PlannedTarget } from '../targets/index.ts';
import { namingTheGroup, sendCardStep, sendGroupCard, sendsCard } from './card-sender.ts';
import {
  applyAnswer,
  fail,
  failStep,
  type MemberProgress,
  type MemberStep,
  nextStep,
  progressFrom,
} from './member-progress.ts';
import { type Notification, type RuleInfo, type TargetRef, targetRef } from './notification.ts';
import type { OutboundMessage, SendResult } from './outcome.ts';

/** Who a notification is sent as: its tenant's target, and for members which ones. */
export function senderOf(n: { rule: Pick<RuleInfo, 'namespace'>; target: TargetRef }): string {
  const { service, kind, name, recipients } = n.target;
  return JSON.stringify([n.rule.namespace, service, kind, name, recipients ?? '']);
}

/**
 * The sending stage: makes the DingTalk call(s) for a message the queue hands it, signed with the
 * credentials of the tenant whose notifications it carries. Throws what DingTalk refused; the queue
 * decides what follows.
 */
export class Sender {
  readonly #ctx: Pick<OperatorContext, 'dingtalk' | 'members' | 'quota'>;
  /** The newest planned target of each sender (tenant, service, target), whose credentials sign its sends. */
  readonly #targets = new Map<string, { namespace: string; target: PlannedTarget }>();

  constructor(ctx: Pick<OperatorContext, 'dingtalk' | 'members' | 'quota'>) {
    this.#ctx = ctx;
  }

  /** Keeps the newest credentials of a tenant's target: a rotated Secret applies to the next attempt. */
  remember(namespace: string, target: PlannedTarget): void {
    this.#targets.set(senderOf({ rule: { namespace }, target: targetRef(target) }), { namespace, target });
  }

  /** Forgets the credentials of services gone (`live` by namespace and name), unless a queue still needs them. */
  prune(live: (namespace: string, service: string) => boolean, queued: ReadonlySet<string>): void {
    for (const [sender, { namespace, target }] of this.#targets) {
      if (!live(namespace, target.service) && !queued.has(sender)) this.#targets.delete(sender);
    }
  }

  /** The newest planned target of the notification's sender, with its namespace. */
  targetOf(notification: Notification): { namespace: string; target: PlannedTarget } | undefined {
    return this.#targets.get(senderOf(notification));
  }

  /** Sends the message; to a group through the robot whose key (robot-budgets.ts) is `robot`. */
  async send(message: OutboundMessage, robot?: string): Promise<SendResult> {
    const [first] = message.notifications;
    const known = first && this.#targets.get(senderOf(first));
    if (!known) throw new Error('no credentials known for the message');
    const { namespace, target } = known;
    if (target.kind === 'Group') {
      const robots = target.group?.robots ?? [];
      // A group's only robot is its robot, whatever the key: a rotated Secret applies to the next attempt.
      const credentials =
        robots.length === 1 && !target.group?.pool
          ? robots[0]
          : robots.find((r) => robotKey(r.webhook) === robot);
      if (!credentials) {
        // Nothing was sent: the pool's other robots may take the message (outboxes.ts).
        throw new DingTalkError('the robot is no longer in the group', {
          code: DingTalkErrorCode.invalidWebhook,
          errorClass: 'permanent',
          endpoint: 'robot.send',
        });
      }
      const call = {
        namespace,
        service: target.service,
        bucket: { kind: 'Robot', group: target.name },
      } as const;
      try {
        await this.#ctx.dingtalk.sendGroupMessage(credentials, message.content, { msgUuid: message.msgUuid });
      } catch (err) {
        recordCall(this.#ctx.quota, call, err);
        throw err;
      }
      recordCall(this.#ctx.quota, call);
      return {};
    }
    if (target.kind === 'AppGroup') return this.#sendToAppGroup(namespace, target, message);
    return this.#sendToMembers(namespace, target, message);
  }

  /**
   * One call to a group through the app's robot: the first notification of an interactive rule as the
   * app's card (its outTrackId from the ledger, so a retry or a restart keeps one card), anything else
   * as the robot's group message. What DingTalk refuses is thrown for the queue to decide on, naming
   * the group's field when DingTalk says the robot cannot post there.
   */
  async #sendToAppGroup(
    namespace: string,
    target: Extract<PlannedTarget, { kind: 'AppGroup' }>,
    message: OutboundMessage,
  ): Promise<SendResult> {
    const { app, openConversationId } = target;
    if (!app || !openConversationId) throw new Error('app group target has no credentials');
    const call = { namespace, service: target.service, bucket: { kind: 'App' } } as const;
    const record = (error?: unknown) => recordCall(this.#ctx.quota, call, error);
    try {
      if (sendsCard(message, app)) {
        const outTrackId = await sendGroupCard(this.#ctx.dingtalk.cards, app, target, message, record);
        message.messageIds = [outTrackId];
        return { messageId: outTrackId };
      }
      const content = memberMessageOf(message.content);
      const sent = await this.#ctx.dingtalk
        .sendAppGroupMessage(app, openConversationId, content)
        .catch((error: unknown) => {
          record(error);
          throw error;
        });
      record();
      return sent.processQueryKey ? { messageId: sent.processQueryKey } : {};
    } catch (error) {
      throw namingTheGroup(error, target);
    }
  }

  /**
   * One call for at most 20 members per attempt, so each takes a budget slot and its outcome is on
   * record before the next: a retry or restart goes on after the chunks DingTalk answered. A first
   * notification of an interactive rule goes out as the app's card (card-sender.ts), anything else as
   * a batchSend message; a batchSend that timed out or lost its connection may have been delivered:
   * its members are recorded Unconfirmed rather than messaged twice.
   */
  async #sendToMembers(
    namespace: string,
    target: Extract<PlannedTarget, { kind: 'Member' }>,
    message: OutboundMessage,
  ): Promise<SendResult> {
    const app = target.app;
    if (!app) throw new Error('member target has no credentials');
    const { dingtalk, members } = this.#ctx;
    const resolution = await members.resolve(namespace, { ...app, members: target.recipients });
    let progress = message.progress as MemberProgress | undefined;
    if (!progress) {
      progress = progressFrom(undefined);
      progress.total = target.recipients.length;
      fail(progress, resolution.unknown.map(memberIdentity), DingTalkConditionReason.MembersUnresolved);
      message.progress = progress;
    }
    const chunks = chunkUserIds(resolution.userIds);
    const now = Date.now();
    const step = nextStep(progress, chunks, now);
    if (step.kind === 'done') return {};
    if (step.kind === 'retry' && step.notBefore > now) return { more: { notBefore: step.notBefore } };
    // Cards and messages alike count against the app's monthly quota.
    const call = { namespace, service: target.service, bucket: { kind: 'App' } } as const;
    const record = (error?: unknown) => recordCall(this.#ctx.quota, call, error);
    if (sendsCard(message, app)) await sendCardStep(dingtalk.cards, app, message, progress, step, record);
    else await this.#sendMessageStep(app, message, progress, step, record);
    const next = nextStep(progress, chunks, Date.now());
    return next.kind === 'done'
      ? { messageId: message.messageIds?.[0] }
      : { more: { notBefore: next.kind === 'retry' ? next.notBefore : 0 } };
  }

  /** One batchSend call for a step of a plain message to members. */
  async #sendMessageStep(
    app: NonNullable<Extract<PlannedTarget, { kind: 'Member' }>['app']>,
    message: OutboundMessage,
    progress: MemberProgress,
    step: Extract<MemberStep, { kind: 'chunk' | 'retry' }>,
    record: (error?: unknown) => void,
  ): Promise<void> {
    const content = memberMessageOf(message.content);
    const answer = await this.#ctx.dingtalk.sendToMembers(app, step.userIds, content);
    const [failure] = answer.failed;
    record(failure?.error);
    if (failure) {
      const error = failure.error;
      const errcode = error.errcode === undefined ? undefined : String(error.errcode);
      const unconfirmed =
        error.code === DingTalkErrorCode.timeout || error.code === DingTalkErrorCode.connection;
      if (unconfirmed) failStep(progress, step, 'Unconfirmed', errcode);
      else if (error.errorClass === 'permanent' && !isConfigurationRefusal(error))
        failStep(progress, step, 'DingTalkError', errcode);
      // Refused as a whole for a passing or configuration reason: nobody got it; the outbox decides.
      else throw error;
    } else {
      applyAnswer(progress, step, {
        sent: answer.sentUserIds,
        invalid: answer.invalidUserIds,
        flowControlled: answer.flowControlledUserIds,
      });
      message.messageIds = [...(message.messageIds ?? []), ...answer.processQueryKeys].slice(0, 1);
    }
  }
}
