import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import { type AppApiCall, type CardApi, createCardApi } from './cards.ts';
import { DingTalkError, DingTalkErrorCode, isDingTalkError } from './errors.ts';
import { buildGroupBody, type GroupMessage } from './group-message.ts';
import { chunkUserIds, type MemberMessage, toMsgKey } from './member-message.ts';
import { type ClientHooks, clientOptionsSchema, type DingTalkClientOptions } from './options.ts';
import { readApi, readOapi } from './responses.ts';
import { type AppCredentials, createTokenCache, type TokenGrant } from './token-cache.ts';
import { createTransport, type RawResponse } from './transport.ts';
import { resolveWebhook } from './webhook-url.ts';

export interface GroupTarget {
  /** The full webhook URL or just its access_token. */
  webhook: string;
  /** The robot's 加签 secret (`SEC…`), when signing is enabled. */
  secret?: string | undefined;
  /** The robot's custom keywords; one is added to the message when none is present. */
  keywords?: readonly string[] | undefined;
}

export interface MemberApp extends AppCredentials {
  /** For an enterprise internal app the robotCode is its clientId, the default. */
  robotCode?: string | undefined;
}

export interface MemberSendResult {
  processQueryKeys: string[];
  sentUserIds: string[];
  /** Ids DingTalk does not know: report them, retrying will not help. */
  invalidUserIds: string[];
  /** Ids DingTalk skipped for flow control: worth retrying later. */
  flowControlledUserIds: string[];
  /** Chunks that failed as a whole; the other chunks were delivered. */
  failed: { userIds: string[]; error: DingTalkError }[];
}

const userSchema = z.looseObject({
  userid: z.string(),
  name: z.string().optional(),
  mobile: z.string().optional(),
  title: z.string().optional(),
  active: z.boolean().optional(),
});
export type DingTalkUser = z.output<typeof userSchema>;

const tokenResponseSchema = z.object({ accessToken: z.string().min(1), expireIn: z.number().positive() });
const batchSendResponseSchema = z.object({
  processQueryKey: z.string().optional(),
  invalidStaffIdList: z.array(z.string()).default([]),
  flowControlledStaffIdList: z.array(z.string()).default([]),
});
const userIdResponseSchema = z.object({ result: z.object({ userid: z.string() }) });
const userResponseSchema = z.object({ result: userSchema });
const okSchema = z.object({});
const groupSendResponseSchema = z.object({ processQueryKey: z.string().default('') });
/** msgParam of a group message through the app's robot: at most this many bytes (dingtalk-api.md §3.3). */
export const maxAppGroupMsgParamBytes = 15_000;
const streamTicketSchema = z.object({ endpoint: z.string().min(1), ticket: z.string().min(1) });

/** What a Stream connection receives: `type` EVENT or CALLBACK, and a topic such as the card callback's. */
export interface StreamSubscription {
  type: 'EVENT' | 'CALLBACK';
  topic: string;
}
export type StreamTicket = z.output<typeof streamTicketSchema>;

// topapi answers for "no such user / mobile" (dingtalk-api.md §4): absence, not failure.
const userNotFoundErrcodes = new Set<unknown>([40104, 60121, 33012]);

export type DingTalkClient = ReturnType<typeof createDingTalkClient>;

export function createDingTalkClient(input: DingTalkClientOptions = {}) {
  const options = clientOptionsSchema.parse(input);
  const hooks: ClientHooks = input;
  const now = input.now ?? Date.now;
  const transport = createTransport(options, input.env);

  /** One HTTP exchange, reported to onRequest with its outcome. */
  const exchange = async <T>(
    endpoint: string,
    send: () => Promise<RawResponse>,
    read: (r: RawResponse) => T,
  ) => {
    const started = performance.now();
    const report = (resultClass: 'ok' | DingTalkError['errorClass']) =>
      hooks.onRequest?.({ endpoint, resultClass, durationMs: performance.now() - started });
    try {
      const result = read(await send());
      report('ok');
      return result;
    } catch (error) {
      report(isDingTalkError(error) ? error.errorClass : 'transient');
      throw error;
    }
  };

  const callApi = <S extends z.ZodType>(
    request: { endpoint: string; method: 'GET' | 'POST' | 'PUT'; path: string; body?: unknown },
    schema: S,
    token?: string,
  ) =>
    exchange(
      request.endpoint,
      () =>
        transport.request({
          method: request.method,
          url: new URL(request.path, options.apiBaseUrl),
          endpoint: request.endpoint,
          ...(request.body !== undefined && { body: JSON.stringify(request.body) }),
          headers: token === undefined ? {} : { 'x-acs-dingtalk-access-token': token },
        }),
      (response) => readApi(response, request.endpoint, schema),
    );

  const postApi = <S extends z.ZodType>(
    endpoint: string,
    path: string,
    body: unknown,
    schema: S,
    token?: string,
  ) => callApi({ endpoint, method: 'POST', path, body }, schema, token);

  const postTopApi = <S extends z.ZodType>(
    endpoint: string,
    path: string,
    body: unknown,
    schema: S,
    token: string,
  ) => {
    const url = new URL(path, options.oapiBaseUrl);
    url.searchParams.set('access_token', token);
    return exchange(
      endpoint,
      () => transport.post({ url, endpoint, body: JSON.stringify(body) }),
      (response) => readOapi(response, endpoint, schema),
    );
  };

  const tokens = createTokenCache({
    now,
    refreshMarginMs: options.tokenRefreshMarginMs,
    onResult: hooks.onTokenCache,
    async request(app) {
      const body = { appKey: app.clientId, appSecret: app.clientSecret };
      const issued = await postApi(
        'oauth2.accessToken',
        '/v1.0/oauth2/accessToken',
        body,
        tokenResponseSchema,
      );
      return { accessToken: issued.accessToken, expiresInSeconds: issued.expireIn };
    },
  });

  /** Runs `call` with the app's token; a token DingTalk rejects is dropped and the call retried once. */
  const withToken = async <T>(app: AppCredentials, call: (token: string) => Promise<T>): Promise<T> => {
    const token = await tokens.get(app);
    try {
      return await call(token);
    } catch (error) {
      if (!isDingTalkError(error) || error.errorClass !== 'auth') throw error;
      tokens.invalidate(app.clientId, token);
      return call(await tokens.get(app));
    }
  };

  const appApiCall: AppApiCall = (app, request, schema) =>
    withToken(app, (token) => callApi(request, schema, token));
  const cards: CardApi = createCardApi(appApiCall);

  const lookup = async <T>(find: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await find();
    } catch (error) {
      if (isDingTalkError(error) && userNotFoundErrcodes.has(error.errcode)) return undefined;
      throw error;
    }
  };

  return {
    /**
     * Sends one message to a group robot. Pass the msgUuid of the first attempt when retrying so DingTalk
     * does not show the message twice. Refuses webhooks outside the allow-list before any request.
     */
    async sendGroupMessage(target: GroupTarget, message: GroupMessage, send: { msgUuid?: string } = {}) {
      const webhook = resolveWebhook(target.webhook, {
        oapiBaseUrl: options.oapiBaseUrl,
        allowedHosts: options.allowedWebhookHosts,
      });
      const msgUuid = send.msgUuid ?? randomUUID();
      const body = buildGroupBody(message, { keywords: target.keywords ?? [], msgUuid });
      const endpoint = 'robot.send';
      await exchange(
        endpoint,
        () =>
          transport.post({
            url: webhook.sendUrl({ secret: target.secret, nowMs: now() }),
            endpoint,
            body: body.serialized,
          }),
        (response) => readOapi(response, endpoint, okSchema),
      );
      return { msgUuid, trimmed: body.trimmed };
    },

    getAccessToken(app: AppCredentials): Promise<string> {
      return tokens.get(app);
    },

    /** The app's token with its expiry (epoch ms), from the same cache and single request as getAccessToken. */
    getAccessTokenGrant(app: AppCredentials): Promise<TokenGrant> {
      return tokens.grant(app);
    },

    /** One-to-one messages through the app's robot, in chunks of at most 20 users. */
    async sendToMembers(app: MemberApp, userIds: readonly string[], message: MemberMessage) {
      const { msgKey, msgParam } = toMsgKey(message);
      const robotCode = app.robotCode ?? app.clientId;
      const result: MemberSendResult = {
        processQueryKeys: [],
        sentUserIds: [],
        invalidUserIds: [],
        flowControlledUserIds: [],
        failed: [],
      };
      for (const chunk of chunkUserIds(userIds)) {
        try {
          const body = { robotCode, userIds: chunk, msgKey, msgParam };
          const sent = await withToken(app, (token) =>
            postApi(
              'robot.batchSend',
              '/v1.0/robot/oToMessages/batchSend',
              body,
              batchSendResponseSchema,
              token,
            ),
          );
          if (sent.processQueryKey) result.processQueryKeys.push(sent.processQueryKey);
          const skipped = new Set([...sent.invalidStaffIdList, ...sent.flowControlledStaffIdList]);
          result.sentUserIds.push(...chunk.filter((userId) => !skipped.has(userId)));
          result.invalidUserIds.push(...sent.invalidStaffIdList);
          result.flowControlledUserIds.push(...sent.flowControlledStaffIdList);
        } catch (error) {
          if (!isDingTalkError(error)) throw error;
          result.failed.push({ userIds: chunk, error });
        }
      }
      return result;
    },

    /**
     * A message from the app's robot to a group it is a member of (`groupMessages/send`,
     * dingtalk-api.md §3.3): one call against the org's monthly API quota. DingTalk keeps no message id
     * for deduplication here, so a retry after a lost answer may show the message twice.
     */
    async sendAppGroupMessage(app: MemberApp, openConversationId: string, message: MemberMessage) {
      const { msgKey, msgParam } = toMsgKey(message);
      if (Buffer.byteLength(msgParam) > maxAppGroupMsgParamBytes) {
        throw new DingTalkError(
          `robot.groupSend: the message is ${Buffer.byteLength(msgParam)} bytes; DingTalk takes at most ${maxAppGroupMsgParamBytes}`,
          { code: DingTalkErrorCode.invalidMessage, errorClass: 'permanent', endpoint: 'robot.groupSend' },
        );
      }
      const body = { robotCode: app.robotCode ?? app.clientId, openConversationId, msgKey, msgParam };
      const sent = await withToken(app, (token) =>
        postApi('robot.groupSend', '/v1.0/robot/groupMessages/send', body, groupSendResponseSchema, token),
      );
      return { processQueryKey: sent.processQueryKey };
    },

    /** The userId of a current employee with this mobile, or undefined when DingTalk knows none. */
    getUserIdByMobile(app: AppCredentials, mobile: string): Promise<string | undefined> {
      return lookup(async () => {
        const found = await withToken(app, (token) =>
          postTopApi(
            'user.getByMobile',
            '/topapi/v2/user/getbymobile',
            { mobile },
            userIdResponseSchema,
            token,
          ),
        );
        return found.result.userid;
      });
    },

    /** The user's details, or undefined when the userId is unknown. */
    getUser(app: AppCredentials, userId: string): Promise<DingTalkUser | undefined> {
      return lookup(async () => {
        const found = await withToken(app, (token) =>
          postTopApi('user.get', '/topapi/v2/user/get', { userid: userId }, userResponseSchema, token),
        );
        return found.result;
      });
    },

    /** Interactive cards, DING and read receipts of an app's robot (cards.ts). */
    cards,

    /**
     * Stream mode's first step: trades the app's credentials for a WebSocket endpoint and a one-time
     * ticket (stream-client.ts opens the socket). The ticket is a credential: never logged.
     */
    openStreamConnection(
      app: AppCredentials,
      subscriptions: readonly StreamSubscription[],
    ): Promise<StreamTicket> {
      const body = {
        clientId: app.clientId,
        clientSecret: app.clientSecret,
        subscriptions,
        ua: 'dingtalk-operator',
      };
      return postApi('gateway.connectionsOpen', '/v1.0/gateway/connections/open', body, streamTicketSchema);
    },

    close(): Promise<void> {
      return transport.close();
    },
  };
}
