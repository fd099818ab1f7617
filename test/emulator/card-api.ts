import { z } from 'zod';
import { type ApiAnswer, apiError, monthSpent } from './app-api.ts';
import type { RecordedCard } from './schemas.ts';
import type { App, World } from './world.ts';

/**
 * Interactive cards of the app's robot (dingtalk-2026.md §3.4): create-and-deliver and update in place.
 * The SDK's documentation of outTrackId says a second create with the same outTrackId does not
 * overwrite the card's data ("同一个outTrackId重复创建，卡片数据不覆盖更新") and may deliver the same card
 * to more conversations: so a repeat answers success, delivers only to spaces the card is not in yet,
 * and leaves the data alone. The error codes for a missing card and an oversized value are not
 * documented; the ones here follow the `invalidParameter.*` family of the robot APIs. Nor is the answer for
 * a group the app's robot is not in: the card is refused whole with `invalid.openConversationId`, as the
 * app robot's group-message API documents for a group it cannot post to, and no card is made.
 */

/** `cardParamMap` limits of the update API: key ≤ 100 bytes, value ≤ 1 KB, strings only. */
export const maxCardKeyBytes = 100;
export const maxCardValueBytes = 1024;

const openSpacePrefix = 'dtv1.card//';

const paramMapSchema = z.record(z.string(), z.unknown());
const createSchema = z.object({
  outTrackId: z.string().optional(),
  cardTemplateId: z.string().optional(),
  cardData: z.object({ cardParamMap: paramMapSchema.optional() }).optional(),
  callbackType: z.string().optional(),
  openSpaceId: z.string().optional(),
  imGroupOpenDeliverModel: z.object({ robotCode: z.string().optional() }).optional(),
  imRobotOpenDeliverModel: z.object({ spaceType: z.string().optional() }).optional(),
});
const updateSchema = z.object({
  outTrackId: z.string().optional(),
  cardData: z.object({ cardParamMap: paramMapSchema.optional() }).optional(),
  cardUpdateOptions: z.object({ updateCardDataByKey: z.boolean().optional() }).optional(),
});

const invalidToken = () => apiError(400, 'InvalidAuthentication', '不合法的access_token');

/** The refusal for a cardParamMap DingTalk would not take, or undefined when every entry fits. */
export function checkCardParamMap(
  map: Record<string, unknown>,
): { code: string; message: string } | undefined {
  for (const [key, value] of Object.entries(map)) {
    if (Buffer.byteLength(key) > maxCardKeyBytes) {
      return { code: 'invalidParameter.cardParamMap.keyTooLong', message: `key ${key} over 100 bytes` };
    }
    if (typeof value !== 'string') {
      return { code: 'invalidParameter.cardParamMap.invalid', message: `value of ${key} is not a string` };
    }
    if (Buffer.byteLength(value) > maxCardValueBytes) {
      return {
        code: 'invalidParameter.cardParamMap.valueTooLong',
        message: `value of ${key} is ${Buffer.byteLength(value)} bytes, over 1 KB`,
      };
    }
  }
  return undefined;
}

/** Replaces the card's data, or merges into it by key, and remembers the new version. */
export function applyCardData(
  world: World,
  card: RecordedCard,
  map: Record<string, string>,
  by: 'update' | 'callback',
  byKey: boolean,
) {
  card.cardParamMap = byKey ? { ...card.cardParamMap, ...map } : { ...map };
  card.history.push({ at: world.clock.now(), by, cardParamMap: { ...card.cardParamMap } });
}

export function createAndDeliverCard(world: World, app: App | undefined, body: unknown): ApiAnswer {
  if (!app) return invalidToken();
  world.count(world.stats.cardCalls, app.clientId);
  const spent = monthSpent(world, app);
  if (spent) return spent;
  const request = createSchema.safeParse(body);
  if (!request.success) return apiError(400, 'invalidParameter.body.invalid', 'body is not a JSON object');
  const { outTrackId, cardTemplateId, cardData, openSpaceId } = request.data;
  if (!outTrackId) return apiError(400, 'invalidParameter.outTrackId.empty', 'outTrackId is empty');
  if (!cardTemplateId)
    return apiError(400, 'invalidParameter.cardTemplateId.empty', 'cardTemplateId is empty');
  const spaces = parseOpenSpaceId(openSpaceId);
  if (!spaces) {
    return apiError(
      400,
      'invalidParameter.openSpaceId.invalid',
      'openSpaceId must be dtv1.card//TYPE.id[;…]',
    );
  }
  const cardParamMap = cardData?.cardParamMap ?? {};
  const refusal = checkCardParamMap(cardParamMap);
  if (refusal) return apiError(400, refusal.code, refusal.message);
  const wantsGroup = spaces.some((space) => space.startsWith('IM_GROUP.'));
  if (wantsGroup && request.data.imGroupOpenDeliverModel?.robotCode !== app.robotCode) {
    return apiError(
      400,
      'invalidParameter.robotCode.invalid',
      'imGroupOpenDeliverModel.robotCode is not this app',
    );
  }
  const notInGroup = spaces
    .filter((space) => space.startsWith('IM_GROUP.'))
    .find((space) => !world.appGroupOf(splitSpace(space)[1], app));
  if (notInGroup) {
    return apiError(
      400,
      'invalid.openConversationId',
      `the robot ${app.robotCode} is not a member of the group ${splitSpace(notInGroup)[1]}`,
    );
  }
  const wantsMember = spaces.some((space) => space.startsWith('IM_ROBOT.'));
  if (wantsMember && request.data.imRobotOpenDeliverModel === undefined) {
    return apiError(
      400,
      'invalidParameter.imRobotOpenDeliverModel.empty',
      'imRobotOpenDeliverModel is missing',
    );
  }

  const existing = world.cards.get(outTrackId);
  const card: RecordedCard = existing ?? {
    outTrackId,
    clientId: app.clientId,
    cardTemplateId,
    callbackType: request.data.callbackType ?? 'STREAM',
    spaces: [],
    cardParamMap: cardParamMap as Record<string, string>,
    history: [
      { at: world.clock.now(), by: 'create', cardParamMap: { ...(cardParamMap as Record<string, string>) } },
    ],
  };
  world.cards.set(outTrackId, card);
  const deliverResults = spaces.map((space) => {
    const [spaceType, spaceId] = splitSpace(space);
    if (spaceType === 'IM_ROBOT' && !world.users.has(spaceId)) {
      return { spaceType, spaceId, success: false, errorMsg: 'user not found' };
    }
    if (!card.spaces.includes(space)) card.spaces.push(space);
    return { spaceType, spaceId, success: true, carrierId: `${outTrackId}:${space}` };
  });
  return { status: 200, body: { success: true, result: { outTrackId, deliverResults } } };
}

export function updateCard(world: World, app: App | undefined, body: unknown): ApiAnswer {
  if (!app) return invalidToken();
  world.count(world.stats.cardCalls, app.clientId);
  const spent = monthSpent(world, app);
  if (spent) return spent;
  const request = updateSchema.safeParse(body);
  if (!request.success) return apiError(400, 'invalidParameter.body.invalid', 'body is not a JSON object');
  const { outTrackId, cardData, cardUpdateOptions } = request.data;
  if (!outTrackId) return apiError(400, 'invalidParameter.outTrackId.empty', 'outTrackId is empty');
  const card = world.cards.get(outTrackId);
  if (!card || card.clientId !== app.clientId) {
    return apiError(400, 'invalidParameter.outTrackId.notExist', `no card ${outTrackId}`);
  }
  const map = cardData?.cardParamMap ?? {};
  const refusal = checkCardParamMap(map);
  if (refusal) return apiError(400, refusal.code, refusal.message);
  applyCardData(
    world,
    card,
    map as Record<string, string>,
    'update',
    cardUpdateOptions?.updateCardDataByKey ?? false,
  );
  return { status: 200, body: { success: true, result: true } };
}

/** The `TYPE.id` parts of an openSpaceId, or undefined when it is not one. */
export function parseOpenSpaceId(openSpaceId: string | undefined): string[] | undefined {
  if (!openSpaceId?.startsWith(openSpacePrefix)) return undefined;
  const spaces = openSpaceId.slice(openSpacePrefix.length).split(';').filter(Boolean);
  const valid = spaces.every((space) => /^(IM_GROUP|IM_ROBOT)\.[^.].*$/.test(space));
  return valid && spaces.length > 0 ? spaces : undefined;
}

function splitSpace(space: string): [string, string] {
  const dot = space.indexOf('.');
  return [space.slice(0, dot), space.slice(dot + 1)];
}
