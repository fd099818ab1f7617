/**
 * The client's error catalogue. Every failure a caller can see is a DingTalkError with a stable `code`
 * (what went wrong at our end) and an `errorClass` (what the caller should do about it).
 */

export type ErrorClass = 'throttled' | 'transient' | 'auth' | 'permanent';

export const DingTalkErrorCode = {
  /** DingTalk answered and refused: errcode ≠ 0 (old APIs) or a `{code,message}` body (new APIs). */
  rejected: 'DINGTALK_ERR_REJECTED',
  /** A non-2xx status whose body is not one of DingTalk's error shapes (proxies, gateways). */
  httpStatus: 'DINGTALK_ERR_HTTP_STATUS',
  /** A 2xx answer whose body does not match the documented shape. */
  badResponse: 'DINGTALK_ERR_BAD_RESPONSE',
  /** No (complete) answer in time: connect, headers, a gap in the body, or the request's overall deadline. */
  timeout: 'DINGTALK_ERR_TIMEOUT',
  /** The answer exceeded the size cap; DingTalk's are small. */
  responseTooLarge: 'DINGTALK_ERR_RESPONSE_TOO_LARGE',
  connection: 'DINGTALK_ERR_CONNECTION',
  /** Refused before any request: the webhook points at a host outside the allow-list. */
  hostNotAllowed: 'DINGTALK_ERR_HOST_NOT_ALLOWED',
  invalidWebhook: 'DINGTALK_ERR_INVALID_WEBHOOK',
  invalidMessage: 'DINGTALK_ERR_INVALID_MESSAGE',
} as const;

export type DingTalkErrorCode = (typeof DingTalkErrorCode)[keyof typeof DingTalkErrorCode];

export interface DingTalkErrorDetails {
  code: DingTalkErrorCode;
  errorClass: ErrorClass;
  /** Which DingTalk operation failed, e.g. `robot.send`. */
  endpoint: string;
  /** DingTalk's errcode (old APIs, a number) or code (new APIs, a string). */
  errcode?: number | string;
  errmsg?: string;
  httpStatus?: number;
  requestId?: string;
  cause?: unknown;
}

export class DingTalkError extends Error {
  override readonly name = 'DingTalkError';
  readonly code: DingTalkErrorCode;
  readonly errorClass: ErrorClass;
  readonly endpoint: string;
  readonly errcode: number | string | undefined;
  readonly errmsg: string | undefined;
  readonly httpStatus: number | undefined;
  readonly requestId: string | undefined;

  constructor(message: string, details: DingTalkErrorDetails) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = details.code;
    this.errorClass = details.errorClass;
    this.endpoint = details.endpoint;
    this.errcode = details.errcode;
    this.errmsg = details.errmsg;
    this.httpStatus = details.httpStatus;
    this.requestId = details.requestId;
  }
}

export function isDingTalkError(error: unknown): error is DingTalkError {
  return error instanceof DingTalkError;
}
