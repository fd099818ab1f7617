export type {
  CardApi,
  CardApp,
  CardDelivery,
  CardDeliveryResult,
  CardUpdate,
  DingRequest,
  DingResult,
  MemberReadStatus,
  RemindType,
} from './cards.ts';
export { isConfigurationRefusal, isQuotaExhaustion } from './classify.ts';
export type {
  DingTalkClient,
  DingTalkUser,
  GroupTarget,
  MemberApp,
  MemberSendResult,
  StreamSubscription,
  StreamTicket,
} from './client.ts';
export { createDingTalkClient } from './client.ts';
export type { ErrorClass } from './errors.ts';
export { DingTalkError, DingTalkErrorCode, isDingTalkError } from './errors.ts';
export type { GroupMessage } from './group-message.ts';
export { type MemberMessage, memberMessageOf } from './member-message.ts';
export type { ClientHooks, DingTalkClientOptions, RequestResult } from './options.ts';
export {
  type CardCallbackHandler,
  createStreamClient,
  type StreamClient,
  type StreamClientOptions,
  type StreamEvent,
  type StreamStatus,
} from './stream-client.ts';
export { type CardCallback, type CardCallbackAnswer, cardCallbackTopic } from './stream-frames.ts';
export type { AppCredentials, TokenGrant } from './token-cache.ts';
export { resolveWebhook, robotToken, type WebhookPolicy } from './webhook-url.ts';
