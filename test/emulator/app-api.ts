import { randomBytes, randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { App, World } from './world.ts';

/**
 * The app side of DingTalk: token issuance and robot batchSend on the new API (4xx `{code,message,requestid}`
 * on error, dingtalk-api.md §2.1, §3.1), user lookup on the old topapi (HTTP 200 + errcode, §4).
 */

export interface ApiAnswer {
  status: number;
  body: Record<string, unknown>;
}

export const tokenLifetimeSeconds = 7200;
export const maxUsersPerBatch = 20;

export const apiError = (status: number, code: string, message: string): ApiAnswer => ({
  status,
  body: { code, message, requestid: randomUUID() },
});
const oapiError = (errcode: number, errmsg: string, extra: Record<string, unknown> = {}): ApiAnswer => ({
  status: 200,
  body: { errcode, errmsg, ...extra, request_id: randomUUID() },
});

const tokenRequestSchema = z.object({ appKey: z.string(), appSecret: z.string() });

export function issueToken(world: World, body: unknown): ApiAnswer {
  const credentials = tokenRequestSchema.safeParse(body);
  if (!credentials.success) return apiError(400, 'MissingParameter', 'body is mandatory for this action');
  const { appKey, appSecret } = credentials.data;
  world.count(world.stats.tokenRequests, appKey);
  const app = world.apps.get(appKey);
  if (!app || app.clientSecret !== appSecret) {
    return apiError(400, 'invalidClientIdOrSecret', '无效的clientId或者clientSecret');
  }
  const now = world.clock.now();
  const expiresAt = now + tokenLifetimeSeconds * 1000;
  // Within validity DingTalk hands out the same token again and extends its life.
  const current = [...world.tokens.values()].find(
    (issued) => issued.clientId === appKey && issued.expiresAt > now,
  );
  const token = current?.token ?? randomBytes(16).toString('hex');
  world.tokens.set(token, { token, clientId: appKey, expiresAt });
  return { status: 200, body: { accessToken: token, expireIn: tokenLifetimeSeconds } };
}

/** Fields each msgKey's msgParam must carry (§3.2). */
function requiredParams(msgKey: string): string[] | undefined {
  const card = /^sampleActionCard([2-5])$/.exec(msgKey);
  if (card) {
    const buttons = Array.from({ length: Number(card[1]) }, (_, index) => [
      `actionTitle${index + 1}`,
      `actionURL${index + 1}`,
    ]);
    return ['title', 'text', ...buttons.flat()];
  }
  const fixed: Record<string, string[]> = {
    sampleText: ['content'],
    sampleMarkdown: ['title', 'text'],
    sampleLink: ['title', 'text', 'messageUrl'],
    sampleActionCard: ['title', 'text', 'singleTitle', 'singleURL'],
    sampleActionCard6: ['title', 'text', 'buttonTitle1', 'buttonUrl1', 'buttonTitle2', 'buttonUrl2'],
  };
  return fixed[msgKey];
}

const batchSendSchema = z.object({
  robotCode: z.string().optional(),
  userIds: z.array(z.string()).optional(),
  msgKey: z.string().optional(),
  msgParam: z.unknown(),
});

/**
 * Counts an API call (batchSend, cards, DING; tokens and lookups are free) against the app's monthly
 * limit: the 403 DingTalk answers once the organisation's month is spent, else undefined.
 */
export function monthSpent(world: World, app: App): ApiAnswer | undefined {
  if (world.spendMonthly(`app:${app.clientId}`, app.monthlyLimit)) return undefined;
  return apiError(403, 'Forbidden.AccessDenied.ApiCountLimitForOrg', '企业调用该接口超过每月调用次数限制');
}

export function batchSend(world: World, app: App | undefined, body: unknown): ApiAnswer {
  if (!app) return apiError(400, 'InvalidAuthentication', '不合法的access_token');
  world.count(world.stats.batchSendCalls, app.clientId);
  const spent = monthSpent(world, app);
  if (spent) return spent;
  const request = batchSendSchema.safeParse(body);
  if (!request.success) return apiError(400, 'invalidParameter.body.invalid', 'body is not a JSON object');
  const { robotCode, userIds, msgKey, msgParam } = request.data;
  if (!robotCode) return apiError(400, 'invalidParameter.robotCode.empty', 'robotCode is empty');
  if (robotCode !== app.robotCode)
    return apiError(400, 'invalidParameter.robotCode.notExsit', 'robot not found');
  if (!userIds || userIds.length === 0)
    return apiError(400, 'invalidParameter.userIds.empty', 'userIds is empty');
  if (userIds.length > maxUsersPerBatch) {
    return apiError(400, 'invalidParameter.userIds.overMax', `at most ${maxUsersPerBatch} userIds per call`);
  }
  if (!msgKey) return apiError(400, 'invalidParameter.msgKey.empty', 'msgKey is empty');
  const required = requiredParams(msgKey);
  if (!required) return apiError(400, 'invalidParameter.msgKey.invalid', `unknown msgKey ${msgKey}`);
  const param = typeof msgParam === 'string' ? parseObject(msgParam) : undefined;
  if (!param) return apiError(400, 'invalidParameter.msgParam.invalid', 'msgParam must be a JSON string');
  const missing = required.find((field) => typeof param[field] !== 'string');
  if (missing) return apiError(400, `miss.param.${msgKey}To${missing}`, `msgParam lacks ${missing}`);

  const invalid = userIds.filter((userId) => !world.users.has(userId));
  const flowControlled = userIds.filter(
    (userId) => world.users.has(userId) && app.flowControlledUserIds.includes(userId),
  );
  const processQueryKey = randomUUID();
  const delivered = userIds.filter((userId) => !invalid.includes(userId) && !flowControlled.includes(userId));
  world.oneToOne.set(processQueryKey, {
    clientId: app.clientId,
    robotCode,
    sentAt: world.clock.now(),
    userIds: delivered,
    readAt: new Map(),
  });
  for (const userId of delivered) {
    world.record({
      to: { kind: 'member', userId, robotCode },
      type: msgKey,
      title: typeof param.title === 'string' ? param.title : undefined,
      text: String(param.text ?? param.content ?? ''),
      body: param,
    });
  }
  return {
    status: 200,
    body: {
      processQueryKey,
      invalidStaffIdList: invalid,
      flowControlledStaffIdList: flowControlled,
    },
  };
}

const groupSendSchema = z.object({
  robotCode: z.string().optional(),
  openConversationId: z.string().optional(),
  msgKey: z.string().optional(),
  msgParam: z.unknown(),
});

/** At most this many bytes of msgParam for a group message (dingtalk-api.md §3.3). */
export const maxGroupMsgParamBytes = 15_000;

/**
 * The app robot's message to a group it is in (`/v1.0/robot/groupMessages/send`, dingtalk-api.md §3.3).
 * A group the robot is not in is refused with `invalid.openConversationId`: the documentation lists the
 * code for the endpoint but names none for this case.
 */
export function groupSend(world: World, app: App | undefined, body: unknown): ApiAnswer {
  if (!app) return apiError(400, 'InvalidAuthentication', '不合法的access_token');
  world.count(world.stats.groupSendCalls, app.clientId);
  const spent = monthSpent(world, app);
  if (spent) return spent;
  const request = groupSendSchema.safeParse(body);
  if (!request.success) return apiError(400, 'invalidParameter.body.invalid', 'body is not a JSON object');
  const { robotCode, openConversationId, msgKey, msgParam } = request.data;
  if (!robotCode) return apiError(400, 'invalidParameter.robotCode.empty', 'robotCode is empty');
  if (robotCode !== app.robotCode)
    return apiError(400, 'invalidParameter.robotCode.notExsit', 'robot not found');
  if (!openConversationId) return apiError(400, 'miss.openConversationId', 'openConversationId is empty');
  if (!world.appGroupOf(openConversationId, app))
    return apiError(
      400,
      'invalid.openConversationId',
      `the robot ${robotCode} is not a member of the group ${openConversationId}`,
    );
  if (!msgKey) return apiError(400, 'invalidParameter.msgKey.empty', 'msgKey is empty');
  const required = requiredParams(msgKey);
  if (!required) return apiError(400, 'invalidParameter.msgKey.invalid', `unknown msgKey ${msgKey}`);
  const param = typeof msgParam === 'string' ? parseObject(msgParam) : undefined;
  if (!param) return apiError(400, 'invalidParameter.msgParam.invalid', 'msgParam must be a JSON string');
  if (Buffer.byteLength(msgParam as string) > maxGroupMsgParamBytes)
    return apiError(400, 'invalidParameter.msgParam.tooLong', 'msgParam over 15000 bytes');
  const missing = required.find((field) => typeof param[field] !== 'string');
  if (missing) return apiError(400, `miss.param.${msgKey}To${missing}`, `msgParam lacks ${missing}`);
  world.record({
    to: { kind: 'appGroup', openConversationId, robotCode },
    type: msgKey,
    title: typeof param.title === 'string' ? param.title : undefined,
    text: String(param.text ?? param.content ?? ''),
    body: param,
  });
  return { status: 200, body: { processQueryKey: randomUUID() } };
}

const tokenRejected = () =>
  oapiError(88, 'ding talk error[subcode=40014,submsg=不合法的access_token]', {
    sub_code: '40014',
    sub_msg: '不合法的access_token',
  });

export function userIdByMobile(world: World, app: App | undefined, body: unknown): ApiAnswer {
  if (!app) return tokenRejected();
  const mobile = (body as { mobile?: unknown } | undefined)?.mobile;
  if (typeof mobile !== 'string' || mobile === '') return oapiError(400002, '无效的参数');
  const user = [...world.users.values()].find((candidate) => candidate.mobile === mobile);
  if (!user) return oapiError(40104, '企业中无效的手机号');
  return {
    status: 200,
    body: { errcode: 0, errmsg: 'ok', result: { userid: user.userId }, request_id: randomUUID() },
  };
}

export function userById(world: World, app: App | undefined, body: unknown): ApiAnswer {
  if (!app) return tokenRejected();
  const userId = (body as { userid?: unknown } | undefined)?.userid;
  if (typeof userId !== 'string' || userId === '') return oapiError(400002, '无效的参数');
  const user = world.users.get(userId);
  if (!user) return oapiError(60121, '找不到该用户');
  const result = {
    userid: user.userId,
    name: user.name,
    active: true,
    ...(user.mobile && { mobile: user.mobile }),
  };
  return { status: 200, body: { errcode: 0, errmsg: 'ok', result, request_id: randomUUID() } };
}

export function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
