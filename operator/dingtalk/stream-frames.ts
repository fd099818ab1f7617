import { z } from 'zod';

/**
 * DingTalk Stream mode's frames (dingtalk-2026.md §3.4): the gateway sends
 * `{specVersion, type: SYSTEM|EVENT|CALLBACK, headers: {appId, connectionId, contentType, messageId, time,
 * topic}, data}`, `data` a JSON string; the client acknowledges each with
 * `{code, headers: {contentType, messageId}, message, data}`. A SYSTEM ping is answered with the ping's
 * own data; a card callback's acknowledgement carries the answer as `{response: …}`, the shape the
 * official SDKs send, which may hold new card data.
 */

export const cardCallbackTopic = '/v1.0/card/instances/callback';

export interface StreamFrame {
  type: 'SYSTEM' | 'EVENT' | 'CALLBACK';
  topic: string;
  messageId: string;
  data: string;
}

/** A member's click on a card button, as DingTalk vouches for it. */
export interface CardCallback {
  /** DingTalk's id of this delivery; a redelivery of the same click carries the same one. */
  messageId: string;
  outTrackId: string;
  /** The member who clicked. */
  userId: string;
  /** The button's action ids and params, as the card template defines them. */
  actionIds: string[];
  params: Record<string, unknown>;
}

/** New data for the card, shown to everyone as soon as DingTalk has the acknowledgement. */
export interface CardCallbackAnswer {
  cardParamMap: Record<string, string>;
  /** Merge into the card's data by key; otherwise the data is replaced whole. */
  byKey?: boolean | undefined;
}

const frameSchema = z.object({
  type: z.enum(['SYSTEM', 'EVENT', 'CALLBACK']),
  headers: z.looseObject({ topic: z.string(), messageId: z.string() }),
  data: z.string().default(''),
});

const callbackSchema = z.object({
  outTrackId: z.string().min(1),
  userId: z.string().min(1),
  content: z.string(),
});

const contentSchema = z.object({
  cardPrivateData: z
    .object({
      actionIds: z.array(z.string()).default([]),
      params: z.record(z.string(), z.unknown()).default({}),
    })
    .default({ actionIds: [], params: {} }),
});

export function parseFrame(text: string): StreamFrame | undefined {
  const frame = frameSchema.safeParse(parseJson(text));
  if (!frame.success) return undefined;
  const { type, headers, data } = frame.data;
  return { type, topic: headers.topic, messageId: headers.messageId, data };
}

/** The click a card callback frame carries, or undefined when its data is not one. */
export function parseCardCallback(frame: StreamFrame): CardCallback | undefined {
  const callback = callbackSchema.safeParse(parseJson(frame.data));
  if (!callback.success) return undefined;
  const content = contentSchema.safeParse(parseJson(callback.data.content));
  if (!content.success) return undefined;
  return {
    messageId: frame.messageId,
    outTrackId: callback.data.outTrackId,
    userId: callback.data.userId,
    ...content.data.cardPrivateData,
  };
}

function acknowledgement(messageId: string, data: string): string {
  return JSON.stringify({
    code: 200,
    headers: { contentType: 'application/json', messageId },
    message: 'OK',
    data,
  });
}

export const pingAnswer = (frame: StreamFrame) => acknowledgement(frame.messageId, frame.data);

export const eventAck = (frame: StreamFrame) =>
  acknowledgement(frame.messageId, JSON.stringify({ status: 'SUCCESS', message: 'success' }));

/** Acknowledges a callback, with the card's new data when there is an answer. */
export function callbackAck(frame: StreamFrame, answer?: CardCallbackAnswer): string {
  const response = answer
    ? {
        cardData: { cardParamMap: answer.cardParamMap },
        cardUpdateOptions: { updateCardDataByKey: answer.byKey ?? false },
      }
    : {};
  return acknowledgement(frame.messageId, JSON.stringify({ response }));
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
