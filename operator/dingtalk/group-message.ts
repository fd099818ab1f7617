import { z } from 'zod';
import { DingTalkError, DingTalkErrorCode } from './errors.ts';
import { fitText } from './trim.ts';

/** Who to @-mention. DingTalk only notifies them when the text also carries `@<mobile>`/`@<userId>`. */
export const mentionsSchema = z.object({
  mobiles: z.array(z.string().min(1)).default([]),
  userIds: z.array(z.string().min(1)).max(50).default([]),
  all: z.boolean().default(false),
});

const buttonSchema = z.object({ title: z.string().min(1), actionURL: z.string().min(1) });

/** A message for a custom group robot (dingtalk-api.md §1.5). link and feedCard cannot @-mention. */
export const groupMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text'), content: z.string(), mentions: mentionsSchema.optional() }),
  z.object({
    type: z.literal('markdown'),
    title: z.string().min(1),
    text: z.string(),
    mentions: mentionsSchema.optional(),
  }),
  z.object({
    type: z.literal('actionCard'),
    title: z.string().min(1),
    text: z.string(),
    /** One button makes the whole card a link; two or more are shown separately. */
    buttons: z.array(buttonSchema).min(1),
    buttonsHorizontal: z.boolean().default(false),
    hideAvatar: z.boolean().default(false),
    mentions: mentionsSchema.optional(),
  }),
  z.object({
    type: z.literal('link'),
    title: z.string().min(1),
    text: z.string(),
    messageUrl: z.string().min(1),
    picUrl: z.string().optional(),
  }),
  z.object({
    type: z.literal('feedCard'),
    links: z
      .array(z.object({ title: z.string().min(1), messageURL: z.string().min(1), picURL: z.string().min(1) }))
      .min(1),
  }),
]);

export type GroupMessage = z.input<typeof groupMessageSchema>;
type ParsedGroupMessage = z.output<typeof groupMessageSchema>;
type Mentions = z.output<typeof mentionsSchema>;

export interface GroupBody {
  /** The exact JSON sent, at most 20000 bytes. */
  serialized: string;
  trimmed: boolean;
}

/**
 * Builds the webhook body: mention text and (when none is present) the first keyword are appended to the
 * message's main text, which is then trimmed to DingTalk's size limit. The suffix is never trimmed, so the
 * keyword and the mentions survive truncation.
 */
export function buildGroupBody(
  input: GroupMessage,
  options: { keywords: readonly string[]; msgUuid: string },
) {
  const parsed = groupMessageSchema.safeParse(input);
  if (!parsed.success) throw invalidMessage(z.prettifyError(parsed.error));
  const message = parsed.data;
  const shape = shapeOf(message);
  const mentionSuffix = mentionText(shape.text, mentionsOf(message), shape.separator);
  const serialize = (suffix: string) => (text: string) =>
    JSON.stringify({ ...shape.render(text + suffix), msgUuid: options.msgUuid });

  let fitted = fitText(shape.text, serialize(mentionSuffix));
  const keyword = options.keywords[0];
  if (keyword !== undefined && fitted && !options.keywords.some((word) => fitted?.text.includes(word))) {
    fitted = fitText(shape.text, serialize(`${mentionSuffix}${shape.separator}${keyword}`));
  }
  if (!fitted) throw invalidMessage('the message is too large even without its text');
  return { serialized: fitted.serialized, trimmed: fitted.trimmed } satisfies GroupBody;
}

interface Shape {
  /** The text that carries mentions and keywords, and that is trimmed when the body is too large. */
  text: string;
  /** Goes between the text and the appended mentions or keyword. */
  separator: string;
  render(text: string): Record<string, unknown>;
}

function shapeOf(message: ParsedGroupMessage): Shape {
  switch (message.type) {
    case 'text':
      return {
        text: message.content,
        separator: '\n',
        render: (content) => ({ msgtype: 'text', text: { content }, ...atOf(message.mentions) }),
      };
    case 'markdown':
      return {
        text: message.text,
        separator: '\n\n',
        render: (text) => ({
          msgtype: 'markdown',
          markdown: { title: message.title, text },
          ...atOf(message.mentions),
        }),
      };
    case 'actionCard':
      return {
        text: message.text,
        separator: '\n\n',
        render: (text) => ({
          msgtype: 'actionCard',
          actionCard: actionCard(message, text),
          ...atOf(message.mentions),
        }),
      };
    case 'link':
      return {
        text: message.text,
        separator: '\n',
        render: (text) => ({
          msgtype: 'link',
          link: { title: message.title, text, messageUrl: message.messageUrl, picUrl: message.picUrl },
        }),
      };
    case 'feedCard': {
      // A feed card's only text is its titles; the first title carries the keyword and absorbs any trimming.
      const [first, ...rest] = message.links;
      return {
        text: first?.title ?? '',
        separator: ' ',
        render: (title) => ({ msgtype: 'feedCard', feedCard: { links: [{ ...first, title }, ...rest] } }),
      };
    }
  }
}

function actionCard(message: Extract<ParsedGroupMessage, { type: 'actionCard' }>, text: string) {
  const [single] = message.buttons;
  const common = {
    title: message.title,
    text,
    btnOrientation: message.buttonsHorizontal ? '1' : '0',
    hideAvatar: message.hideAvatar ? '1' : '0',
  };
  if (message.buttons.length === 1 && single) {
    return { ...common, singleTitle: single.title, singleURL: single.actionURL };
  }
  return { ...common, btns: message.buttons };
}

function mentionsOf(message: ParsedGroupMessage): Mentions | undefined {
  return 'mentions' in message ? message.mentions : undefined;
}

function atOf(mentions: Mentions | undefined) {
  if (!mentions) return {};
  return { at: { atMobiles: mentions.mobiles, atUserIds: mentions.userIds, isAtAll: mentions.all } };
}

/** `@who` for every mentioned mobile/userId the text does not already contain. */
function mentionText(text: string, mentions: Mentions | undefined, separator: string): string {
  if (!mentions) return '';
  const missing = [...mentions.mobiles, ...mentions.userIds].filter((who) => !text.includes(`@${who}`));
  return missing.length === 0 ? '' : `${separator}${missing.map((who) => `@${who}`).join(' ')}`;
}

function invalidMessage(reason: string): DingTalkError {
  return new DingTalkError(`invalid group message: ${reason}`, {
    code: DingTalkErrorCode.invalidMessage,
    errorClass: 'permanent',
    endpoint: 'robot.send',
  });
}
