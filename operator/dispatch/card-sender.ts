import type { CardApi } from '../dingtalk/cards.ts';
import { DingTalkErrorCode, isConfigurationRefusal, isDingTalkError } from '../dingtalk/index.ts';
import type { ResolvedMemberApp } from '../targets/index.ts';
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
