import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { applyCardData, checkCardParamMap } from './card-api.ts';
import type { StreamGateway } from './stream-gateway.ts';
import type { World } from './world.ts';

/**
 * A member clicks a button on a card: DingTalk sends the card's app a CALLBACK on the card topic, over one
 * of its open Stream connections, with `outTrackId`, `userId` and `content` =
 * `{"cardPrivateData":{"actionIds":[…],"params":{…}}}` (dingtalk-2026.md §3.4). An answer within 2 s may
 * carry new card data (`{response: {cardData: {cardParamMap}, cardUpdateOptions}}`, the SDKs' shape;
 * the data directly is taken too), applied to the card in place; a later answer counts as a failure and
 * changes nothing. `deliveries` > 1 sends the same callback again (same messageId), as a redelivery
 * would, each time to the next connection in turn.
 */

export const cardCallbackTopic = '/v1.0/card/instances/callback';
export const emulatorCorpId = 'dingemulatorcorp';

export const clickRequestSchema = z.object({
  userId: z.string().min(1),
  actionIds: z.array(z.string()).default([]),
  params: z.record(z.string(), z.unknown()).default({}),
  /** The app to send the callback through when no card has this outTrackId (a forged click). */
  clientId: z.string().min(1).optional(),
  deliveries: z.number().int().min(1).max(5).default(1),
});
export type ClickRequest = z.input<typeof clickRequestSchema>;

const answerSchema = z.looseObject({
  cardData: z.object({ cardParamMap: z.record(z.string(), z.unknown()).optional() }).optional(),
  cardUpdateOptions: z.object({ updateCardDataByKey: z.boolean().optional() }).optional(),
});

export interface ClickDelivery {
  outcome: 'answered' | 'late' | 'closed' | 'no-connection';
  connectionId?: string;
  code?: number;
  /** The answer's data, decoded. */
  answer?: unknown;
  /** Whether the answer changed the card. */
  applied: boolean;
  refusal?: string;
}

export async function clickCard(
  world: World,
  gateway: StreamGateway,
  outTrackId: string,
  input: ClickRequest,
): Promise<{ deliveries: ClickDelivery[] } | undefined> {
  const request = clickRequestSchema.parse(input);
  const card = world.cards.get(outTrackId);
  const clientId = card?.clientId ?? request.clientId;
  if (clientId === undefined) return undefined;
  const content = JSON.stringify({
    cardPrivateData: { actionIds: request.actionIds, params: request.params },
  });
  const data = JSON.stringify({
    corpId: emulatorCorpId,
    type: 'actionCallback',
    outTrackId,
    userId: request.userId,
    content,
  });
  const messageId = randomUUID();
  const deliveries: ClickDelivery[] = [];
  for (let delivery = 0; delivery < request.deliveries; delivery++) {
    const sent = await gateway.callback(clientId, cardCallbackTopic, data, messageId);
    if (!sent) {
      deliveries.push({ outcome: 'no-connection', applied: false });
      continue;
    }
    if (sent.outcome !== 'answered') {
      world.stats.callbacks[sent.outcome === 'late' ? 'late' : 'unanswered']++;
      deliveries.push({ outcome: sent.outcome, connectionId: sent.connectionId, applied: false });
      continue;
    }
    world.stats.callbacks.answered++;
    const answer = decodeAnswer(sent.ack.data);
    const result: ClickDelivery = {
      outcome: 'answered',
      connectionId: sent.connectionId,
      code: sent.ack.code,
      answer,
      applied: false,
    };
    const update = answerSchema.safeParse(answer);
    const map = update.success ? update.data.cardData?.cardParamMap : undefined;
    if (card && map) {
      const refusal = checkCardParamMap(map);
      if (refusal) result.refusal = refusal.message;
      else {
        const byKey = update.data?.cardUpdateOptions?.updateCardDataByKey ?? false;
        applyCardData(world, card, map as Record<string, string>, 'callback', byKey);
        result.applied = true;
      }
    }
    deliveries.push(result);
  }
  return { deliveries };
}

/** The acknowledgement's data: `{response: …}` as the SDKs wrap it, or the answer itself. */
function decodeAnswer(data: string): unknown {
  try {
    const parsed: unknown = JSON.parse(data);
    const wrapped = parsed as { response?: unknown } | null;
    return typeof wrapped === 'object' && wrapped !== null && 'response' in wrapped
      ? wrapped.response
      : parsed;
  } catch {
    return undefined;
  }
}
