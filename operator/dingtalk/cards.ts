import { z } from 'zod';
import { DingTalkError, DingTalkErrorCode } from './errors.ts';

/**
 * Interactive cards, urgent reminders (DING) and read receipts through an enterprise app's robot
 * (dingtalk-2026.md §3.3–3.4). Reached as `client.cards` of the DingTalk client, which brings the app's
 * access token, the connection pool and the error classification every other app call has:
 *
 *   createAndDeliver(app, delivery) → which spaces got the card. Idempotent by `outTrackId`: DingTalk
 *     keeps one card per outTrackId, a repeat delivers it to spaces it is not in yet and leaves its data
 *     alone, so derive the outTrackId from the ledger and a retry or a restart never sends a second card.
 *   update(app, {outTrackId, cardParamMap, byKey}) → the card changes in place for everyone.
 *   sendDing(app, {userIds, content, remindType}) → an in-app (or SMS, phone) urgent reminder.
 *   readStatus(app, processQueryKey) → who has read a one-to-one message (sendToMembers' keys; 24 h).
 *
 * Every create and update is one call against the org's monthly API quota. Card data is checked here
 * before any call (strings, keys ≤ 100 bytes, values ≤ 1 KB), so an oversized value fails at once with
 * a permanent error naming the key instead of spending a call on DingTalk's refusal.
 */

export const maxCardKeyBytes = 100;
export const maxCardValueBytes = 1024;

export interface CardApp {
  clientId: string;
  clientSecret: string;
  /** For an enterprise internal app the robotCode is its clientId, the default. */
  robotCode?: string | undefined;
}

export interface CardDelivery {
  /** The card's idempotent id. */
  outTrackId: string;
  cardTemplateId: string;
  cardParamMap: Readonly<Record<string, string>>;
  /** A group the app's robot is a member of. */
  openConversationId?: string | undefined;
  /** Members mentioned in the group: userId → display name (`@ALL` → `@ALL` for everyone). */
  atUserIds?: Readonly<Record<string, string>> | undefined;
  /** Members who get the card one to one from the app's robot. */
  userIds?: readonly string[] | undefined;
  /** The chat list's preview line. */
  preview?: string | undefined;
}

export interface CardSpace {
  spaceType: string;
  spaceId: string;
}

export interface CardDeliveryResult {
  outTrackId: string;
  delivered: CardSpace[];
  /** Spaces DingTalk could not deliver to (an unknown member, a group without the robot). */
  failed: (CardSpace & { errorMsg?: string | undefined })[];
}

export interface CardUpdate {
  outTrackId: string;
  cardParamMap: Readonly<Record<string, string>>;
  /** Merge into the card's data by key; otherwise the data is replaced whole. */
  byKey?: boolean | undefined;
}

export type RemindType = 'app' | 'sms' | 'call';

export interface DingRequest {
  userIds: readonly string[];
  content: string;
  /** In-app (the default); SMS and phone only where the org bought them. */
  remindType?: RemindType | undefined;
}

export interface DingResult {
  openDingId: string;
  /** Receivers DingTalk did not remind. */
  failedUserIds: string[];
}

export interface MemberReadStatus {
  userId: string;
  name?: string | undefined;
  read: boolean;
  /** Epoch ms. */
  readAt?: number | undefined;
}

export interface CardApi {
  createAndDeliver(app: CardApp, delivery: CardDelivery): Promise<CardDeliveryResult>;
  update(app: CardApp, update: CardUpdate): Promise<void>;
  sendDing(app: CardApp, ding: DingRequest): Promise<DingResult>;
  readStatus(app: CardApp, processQueryKey: string): Promise<MemberReadStatus[]>;
}

/** One authenticated app API call, as the DingTalk client makes it. */
export type AppApiCall = <S extends z.ZodType>(
  app: CardApp,
  request: { endpoint: string; method: 'GET' | 'POST' | 'PUT'; path: string; body?: unknown },
  schema: S,
) => Promise<z.output<S>>;

const createResponseSchema = z.object({
  result: z.object({
    deliverResults: z
      .array(
        z.object({
          spaceType: z.string(),
          spaceId: z.string(),
          success: z.boolean(),
          errorMsg: z.string().optional(),
        }),
      )
      .default([]),
  }),
});
const updateResponseSchema = z.object({});
const dingResponseSchema = z.object({
  openDingId: z.string(),
  failedList: z.record(z.string(), z.unknown()).default({}),
});
const readStatusResponseSchema = z.object({
  messageReadInfoList: z
    .array(
      z.object({
        userId: z.string(),
        name: z.string().optional(),
        readStatus: z.string(),
        readTimestamp: z.number().optional(),
      }),
    )
    .default([]),
});

const remindTypes: Record<RemindType, number> = { app: 1, sms: 2, call: 3 };

export function createCardApi(call: AppApiCall): CardApi {
  return {
    async createAndDeliver(app, delivery) {
      const endpoint = 'card.createAndDeliver';
      checkCardParamMap(delivery.cardParamMap, endpoint);
      const created = await call(
        app,
        {
          endpoint,
          method: 'POST',
          path: '/v1.0/card/instances/createAndDeliver',
          body: deliveryBody(app, delivery),
        },
        createResponseSchema,
      );
      const results = created.result.deliverResults;
      return {
        outTrackId: delivery.outTrackId,
        delivered: results.filter((r) => r.success).map(({ spaceType, spaceId }) => ({ spaceType, spaceId })),
        failed: results
          .filter((r) => !r.success)
          .map(({ spaceType, spaceId, errorMsg }) => ({ spaceType, spaceId, errorMsg })),
      };
    },

    async update(app, { outTrackId, cardParamMap, byKey = false }) {
      const endpoint = 'card.update';
      checkCardParamMap(cardParamMap, endpoint);
      const body = {
        outTrackId,
        cardData: { cardParamMap },
        cardUpdateOptions: { updateCardDataByKey: byKey },
      };
      await call(app, { endpoint, method: 'PUT', path: '/v1.0/card/instances', body }, updateResponseSchema);
    },

    async sendDing(app, { userIds, content, remindType = 'app' }) {
      const body = {
        robotCode: app.robotCode ?? app.clientId,
        receiverUserIdList: [...new Set(userIds)],
        content,
        remindType: remindTypes[remindType],
      };
      const sent = await call(
        app,
        { endpoint: 'robot.dingSend', method: 'POST', path: '/v1.0/robot/ding/send', body },
        dingResponseSchema,
      );
      return { openDingId: sent.openDingId, failedUserIds: Object.keys(sent.failedList) };
    },

    async readStatus(app, processQueryKey) {
      const query = new URLSearchParams({ robotCode: app.robotCode ?? app.clientId, processQueryKey });
      const status = await call(
        app,
        { endpoint: 'robot.readStatus', method: 'GET', path: `/v1.0/robot/oToMessages/readStatus?${query}` },
        readStatusResponseSchema,
      );
      return status.messageReadInfoList.map((member) => ({
        userId: member.userId,
        name: member.name,
        read: member.readStatus === 'READ',
        readAt: member.readTimestamp,
      }));
    },
  };
}

/** The createAndDeliver body: one openSpaceId naming the group and each member, STREAM callbacks. */
export function deliveryBody(app: CardApp, delivery: CardDelivery) {
  const robotCode = app.robotCode ?? app.clientId;
  const spaces = [
    ...(delivery.openConversationId ? [`IM_GROUP.${delivery.openConversationId}`] : []),
    ...[...new Set(delivery.userIds ?? [])].map((userId) => `IM_ROBOT.${userId}`),
  ];
  if (spaces.length === 0) {
    throw invalid('card.createAndDeliver', 'a card needs a group (openConversationId) or members (userIds)');
  }
  const spaceModel = {
    supportForward: false,
    ...(delivery.preview && { lastMessageI18n: { ZH_CN: delivery.preview, EN_US: delivery.preview } }),
  };
  return {
    outTrackId: delivery.outTrackId,
    cardTemplateId: delivery.cardTemplateId,
    cardData: { cardParamMap: delivery.cardParamMap },
    callbackType: 'STREAM',
    openSpaceId: `dtv1.card//${spaces.join(';')}`,
    userIdType: 1,
    ...(delivery.openConversationId && {
      imGroupOpenSpaceModel: spaceModel,
      imGroupOpenDeliverModel: { robotCode, ...(delivery.atUserIds && { atUserIds: delivery.atUserIds }) },
    }),
    ...(delivery.userIds?.length && {
      imRobotOpenSpaceModel: spaceModel,
      imRobotOpenDeliverModel: { spaceType: 'IM_ROBOT', robotCode },
    }),
  };
}

/** Refuses card data DingTalk would refuse: non-strings, keys over 100 bytes, values over 1 KB. */
export function checkCardParamMap(map: Readonly<Record<string, unknown>>, endpoint: string): void {
  for (const [key, value] of Object.entries(map)) {
    if (Buffer.byteLength(key) > maxCardKeyBytes) {
      throw invalid(endpoint, `card key "${key.slice(0, 20)}…" is over ${maxCardKeyBytes} bytes`);
    }
    if (typeof value !== 'string') throw invalid(endpoint, `card value of "${key}" is not a string`);
    const bytes = Buffer.byteLength(value);
    if (bytes > maxCardValueBytes) {
      throw invalid(
        endpoint,
        `card value of "${key}" is ${bytes} bytes; DingTalk takes at most ${maxCardValueBytes}`,
      );
    }
  }
}

function invalid(endpoint: string, message: string): DingTalkError {
  return new DingTalkError(`${endpoint}: ${message}`, {
    code: DingTalkErrorCode.invalidMessage,
    errorClass: 'permanent',
    endpoint,
  });
}
