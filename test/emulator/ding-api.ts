import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { type ApiAnswer, apiError, monthSpent } from './app-api.ts';
import type { App, World } from './world.ts';

/**
 * Urgent reminders and read receipts of the app's robot (dingtalk-2026.md §3.3): DING, and the read
 * status of a one-to-one message by the processQueryKey batchSend returned (queryable for 24 h).
 * SMS and phone DINGs need a purchased pack; an app without `dingCallQuota` is refused them as DingTalk
 * refuses an org without one. The readStatus values READ/UNREAD follow the SDK's model (UNCERTAIN).
 */

const readableForMs = 24 * 60 * 60 * 1000;
const maxInAppReceivers = 200;
const maxCallReceivers = 20;

const dingSchema = z.object({
  robotCode: z.string().optional(),
  receiverUserIdList: z.array(z.string()).optional(),
  content: z.string().optional(),
  remindType: z.number().int().optional(),
});

const invalidToken = () => apiError(400, 'InvalidAuthentication', '不合法的access_token');

export function sendDing(world: World, app: App | undefined, body: unknown): ApiAnswer {
  if (!app) return invalidToken();
  const spent = monthSpent(world, app);
  if (spent) return spent;
  const request = dingSchema.safeParse(body);
  if (!request.success) return apiError(400, 'invalidParameter.body.invalid', 'body is not a JSON object');
  const { robotCode, receiverUserIdList = [], content, remindType = 1 } = request.data;
  if (robotCode !== app.robotCode)
    return apiError(400, 'invalidParameter.robotCode.invalid', 'robot not found');
  if (!content) return apiError(400, 'invalidParameter.content.empty', 'content is empty');
  if (![1, 2, 3].includes(remindType))
    return apiError(400, 'invalidParameter.remindType.invalid', 'remindType');
  const limit = remindType === 1 ? maxInAppReceivers : maxCallReceivers;
  if (receiverUserIdList.length === 0 || receiverUserIdList.length > limit) {
    return apiError(400, 'invalidParameter.receiverUserIdList.invalid', `1 to ${limit} receivers`);
  }
  if (remindType !== 1 && !app.dingCallQuota) {
    return apiError(403, 'ding.serverquota.insufficient', 'SMS and phone DING need a purchased pack');
  }
  const failedList = Object.fromEntries(
    receiverUserIdList
      .filter((userId) => !world.users.has(userId))
      .map((userId) => [userId, 'user not found']),
  );
  const openDingId = randomUUID();
  world.dings.push({
    openDingId,
    clientId: app.clientId,
    robotCode,
    receiverUserIds: receiverUserIdList.filter((userId) => !(userId in failedList)),
    remindType,
    content,
    sentAt: world.clock.now(),
  });
  return { status: 200, body: { openDingId, failedList } };
}

export function readStatus(world: World, app: App | undefined, query: URLSearchParams): ApiAnswer {
  if (!app) return invalidToken();
  const robotCode = query.get('robotCode');
  const processQueryKey = query.get('processQueryKey');
  if (!robotCode) return apiError(400, 'invalidParameter.robotCode.missing', '缺少robotCode');
  if (!processQueryKey)
    return apiError(400, 'invalidParameter.processQueryKey.missing', '缺少processQueryKey');
  const message = world.oneToOne.get(processQueryKey);
  if (!message || message.robotCode !== robotCode || message.clientId !== app.clientId) {
    return apiError(400, 'invalid.processQueryKey', '无效的processQueryKey');
  }
  if (world.clock.now() - message.sentAt > readableForMs) {
    return apiError(400, 'processQueryKey.expireTime', 'processQueryKey还未生成消息查询数据或已过期');
  }
  const messageReadInfoList = message.userIds.map((userId) => {
    const readAt = message.readAt.get(userId);
    return {
      userId,
      name: world.users.get(userId)?.name ?? userId,
      readStatus: readAt === undefined ? 'UNREAD' : 'READ',
      ...(readAt !== undefined && { readTimestamp: readAt }),
    };
  });
  return { status: 200, body: { sendStatus: 'SUCCESS', messageReadInfoList } };
}
