import { z } from 'zod';
import { DingTalkError, DingTalkErrorCode } from './errors.ts';
import type { GroupMessage } from './group-message.ts';

const buttonSchema = z.object({ title: z.string().min(1), actionURL: z.string().min(1) });

/** A one-to-one message from an app robot; mapped onto DingTalk's msgKey catalogue (dingtalk-api.md §3.2). */
export const memberMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text'), content: z.string().min(1) }),
  z.object({ type: z.literal('markdown'), title: z.string().min(1), text: z.string().min(1) }),
  z.object({
    type: z.literal('actionCard'),
    title: z.string().min(1),
    text: z.string().min(1),
    buttons: z.array(buttonSchema).min(1).max(5),
    /** Only two buttons can be laid out side by side (sampleActionCard6). */
    buttonsHorizontal: z.boolean().default(false),
  }),
  z.object({
    type: z.literal('link'),
    title: z.string().min(1),
    text: z.string().min(1),
    messageUrl: z.string().min(1),
    picUrl: z.string().optional(),
  }),
]);

export type MemberMessage = z.input<typeof memberMessageSchema>;

/** DingTalk documents at most 20 userIds per batchSend call. */
export const maxUsersPerBatch = 20;

export function toMsgKey(input: MemberMessage): { msgKey: string; msgParam: string } {
  const parsed = memberMessageSchema.safeParse(input);
  if (!parsed.success) {
    throw new DingTalkError(`invalid member message: ${z.prettifyError(parsed.error)}`, {
      code: DingTalkErrorCode.invalidMessage,
      errorClass: 'permanent',
      endpoint: 'robot.batchSend',
    });
  }
  const message = parsed.data;
  const as = (msgKey: string, param: Record<string, string | undefined>) => ({
    msgKey,
    msgParam: JSON.stringify(param),
  });
  switch (message.type) {
    case 'text':
      return as('sampleText', { content: message.content });
    case 'markdown':
      return as('sampleMarkdown', { title: message.title, text: message.text });
    case 'link':
      return as('sampleLink', {
        title: message.title,
        text: message.text,
        messageUrl: message.messageUrl,
        picUrl: message.picUrl,
      });
    case 'actionCard': {
      const { title, text, buttons } = message;
      const [only] = buttons;
      if (buttons.length === 1 && only) {
        return as('sampleActionCard', { title, text, singleTitle: only.title, singleURL: only.actionURL });
      }
      if (buttons.length === 2 && message.buttonsHorizontal) {
        const numbered = buttons.flatMap((button, index) => [
          [`buttonTitle${index + 1}`, button.title],
          [`buttonUrl${index + 1}`, button.actionURL],
        ]);
        return as('sampleActionCard6', { title, text, ...Object.fromEntries(numbered) });
      }
      const numbered = buttons.flatMap((button, index) => [
        [`actionTitle${index + 1}`, button.title],
        [`actionURL${index + 1}`, button.actionURL],
      ]);
      return as(`sampleActionCard${buttons.length}`, { title, text, ...Object.fromEntries(numbered) });
    }
  }
}

/**
 * The one-to-one form of a group message. A feedCard has no member counterpart: it is refused, rather
 * than sent as something else.
 */
export function memberMessageOf(content: GroupMessage): MemberMessage {
  switch (content.type) {
    case 'text':
      return { type: 'text', content: content.content };
    case 'link':
      return { type: 'link', title: content.title, text: content.text, messageUrl: content.messageUrl };
    case 'actionCard':
      return { type: 'actionCard', title: content.title, text: content.text, buttons: content.buttons };
    case 'markdown':
      return { type: 'markdown', title: content.title, text: content.text };
    default:
      throw new DingTalkError(`a ${content.type} message cannot be sent to members, only to groups`, {
        code: DingTalkErrorCode.invalidMessage,
        errorClass: 'permanent',
        endpoint: 'robot.batchSend',
      });
  }
}

/** Splits user ids into batchSend-sized chunks, dropping duplicates so nobody is messaged twice. */
export function chunkUserIds(userIds: readonly string[], size: number = maxUsersPerBatch): string[][] {
  const unique = [...new Set(userIds)];
  const chunks: string[][] = [];
  for (let start = 0; start < unique.length; start += size) chunks.push(unique.slice(start, start + size));
  return chunks;
}
