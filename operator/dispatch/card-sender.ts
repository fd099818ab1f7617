import type { CardApi } from '../dingtalk/cards.ts';
import {
  DingTalkError,
  DingTalkErrorCode,
  isConfigurationRefusal,
  isDingTalkError,
} from '../dingtalk/index.ts';
import type { PlannedTarget, ResolvedMemberApp } from '../targets/index.ts';
import { initialCardData } from './card-data.ts';
import { cardTrackId } from './card-identity.ts';
import { applyAnswer, failStep, type MemberProgress, type MemberStep } from './member-progress.ts';
import type { OutboundMessage } from './outcome.ts';
import { worstSeverity } from './render.ts';

/** True when the message goes out as a card: an interactive rule's firing alarms, first sent, by an app with a template. */
export function sendsCard(
  message: OutboundMessage,
  app: ResolvedMemberApp,
): app is ResolvedMemberApp & { cardTemplateId: string } {
  const [first] = message.notifications;
  return (
    app.cardTemplateId !== undefined &&
    first?.rule.interactive !== undefined &&
    // A repeat is a reminder and a resolved message news, as plain messages: the card to act on is
    // the one first sent for the firing alarm.
    message.notifications.every((n) => !n.repeat && n.alarms.every((a) => a.spec.state === 'firing'))
  );
}

/**
 * One createAndDeliver call for one step (at most 20 members) of a member set's card: the same
 * outTrackId for every step and every retry, so DingTalk keeps one card and a repeated call only
 * reaches members it has not reached yet. A call that timed out may have been delivered: it is thrown
 * for the queue to retry, which the outTrackId makes safe (unlike a plain message, nothing shows twice).
 */
export async function sendCardStep(
  cards: CardApi,
  app: ResolvedMemberApp & { cardTemplateId: string },
  message: OutboundMessage,
  progress: MemberProgress,
  step: Extract<MemberStep, { kind: 'chunk' | 'retry' }>,
  /** Counts the call against the app's monthly quota, with the error it ended in. */
  record: (error?: unknown) => void,
): Promise<void> {
  const [first] = message.notifications;
  if (!first?.rule.interactive) throw new Error('a card needs an interactive rule');
  const outTrackId = cardTrackId(first.rule.namespace, {
    service: first.target.service,
    targetKind: first.target.kind,
    targetName: first.target.name,
    msgUuid: message.msgUuid,
  });
  const cardParamMap = initialCardData({
    content: message.content,
    severity: worstSeverity(message.notifications.flatMap((n) => n.alarms)),
    interactive: first.rule.interactive,
  });
  try {
    const result = await cards.createAndDeliver(app, {
      outTrackId,
      cardTemplateId: app.cardTemplateId,
      cardParamMap,
      userIds: step.userIds,
      preview: cardParamMap.title,
    });
    record();
    const failed = new Set(result.failed.map((space) => space.spaceId));
    applyAnswer(progress, step, {
      sent: step.userIds.filter((userId) => !failed.has(userId)),
      invalid: step.userIds.filter((userId) => failed.has(userId)),
      flowControlled: [],
    });
    message.messageIds = [outTrackId];
  } catch (error) {
    record(error);
    if (!isDingTalkError(error)) throw error;
    const passing = error.code === DingTalkErrorCode.timeout || error.code === DingTalkErrorCode.connection;
    if (passing || error.errorClass !== 'permanent' || isConfigurationRefusal(error)) throw error;
    const errcode = error.errcode === undefined ? undefined : String(error.errcode);
    failStep(progress, step, 'DingTalkError', errcode);
  }
}

/**
 * One createAndDeliver call for a group the app's robot is in: the card's outTrackId is derived from the
 * ledger as for members, so a retry, a restart or a takeover re-delivering it makes no second card. A
 * group DingTalk answers as not delivered (the call succeeded, the group's space failed) is refused.
 */
export async function sendGroupCard(
  cards: CardApi,
  app: ResolvedMemberApp & { cardTemplateId: string },
  target: Extract<PlannedTarget, { kind: 'AppGroup' }>,
  message: OutboundMessage,
  /** Counts the call against the app's monthly quota, with the error it ended in. */
  record: (error?: unknown) => void,
): Promise<string> {
  const [first] = message.notifications;
  if (!first?.rule.interactive) throw new Error('a card needs an interactive rule');
  const outTrackId = cardTrackId(first.rule.namespace, {
    service: target.service,
    targetKind: 'AppGroup',
    targetName: target.name,
    msgUuid: message.msgUuid,
  });
  const cardParamMap = initialCardData({
    content: message.content,
    severity: worstSeverity(message.notifications.flatMap((n) => n.alarms)),
    interactive: first.rule.interactive,
  });
  let result: Awaited<ReturnType<CardApi['createAndDeliver']>>;
  try {
    result = await cards.createAndDeliver(app, {
      outTrackId,
      cardTemplateId: app.cardTemplateId,
      cardParamMap,
      openConversationId: target.openConversationId,
      preview: cardParamMap.title,
    });
  } catch (error) {
    record(error);
    throw error;
  }
  record();
  const [failed] = result.failed;
  if (failed) {
    throw new DingTalkError(
      `card.createAndDeliver: DingTalk did not deliver the card to the group: ${failed.errorMsg ?? 'no reason given'}`,
      {
        code: DingTalkErrorCode.rejected,
        errorClass: 'permanent',
        endpoint: 'card.createAndDeliver',
        ...(failed.errorMsg !== undefined && { errmsg: failed.errorMsg }),
      },
    );
  }
  return outTrackId;
}

/**
 * DingTalk's refusal of a group reached through the app's robot, saying which field to look at: the
 * group's openConversationId when DingTalk cannot post there (the robot is not in the group, or the id
 * is wrong). Other errors pass as they are.
 */
export function namingTheGroup(
  error: unknown,
  target: Extract<PlannedTarget, { kind: 'AppGroup' }>,
): unknown {
  if (!isDingTalkError(error) || !groupRefusals.has(String(error.errcode))) return error;
  return new DingTalkError(
    `spec.member.groups[${target.name}].openConversationId: the app's robot (robotCode ${target.app?.robotCode ?? '?'}) cannot post to the group; add the robot to the group in DingTalk, or correct the id (DingTalk: ${error.errmsg ?? error.message})`,
    {
      code: error.code,
      errorClass: error.errorClass,
      endpoint: error.endpoint,
      errcode: error.errcode,
      ...(error.errmsg !== undefined && { errmsg: error.errmsg }),
      ...(error.httpStatus !== undefined && { httpStatus: error.httpStatus }),
      cause: error,
    },
  );
}

/** The codes with which DingTalk refuses a group the app's robot cannot post to (errcode-catalogue.ts). */
const groupRefusals = new Set(['invalid.openConversationId', 'group.disbanded', 'bot.stopped']);
