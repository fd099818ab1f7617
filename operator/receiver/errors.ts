import type { FieldIssue } from '../api/index.ts';

/**
 * The receiver's error catalogue. Every error answer is `{ code, message, issues? }` with one of these
 * stable codes; callers and tests match on the code, never on the message. Messages never carry a token.
 */
export const ReceiverErrorCode = {
  Unauthenticated: 'RCV_ERR_UNAUTHENTICATED',
  Forbidden: 'RCV_ERR_FORBIDDEN',
  InvalidBody: 'RCV_ERR_INVALID_BODY',
  MalformedJson: 'RCV_ERR_MALFORMED_JSON',
  BatchTooLarge: 'RCV_ERR_BATCH_TOO_LARGE',
  InvalidNamespace: 'RCV_ERR_INVALID_NAMESPACE',
  NamespaceNotFound: 'RCV_ERR_NAMESPACE_NOT_FOUND',
  BodyTooLarge: 'RCV_ERR_BODY_TOO_LARGE',
  PayloadTooLarge: 'RCV_ERR_PAYLOAD_TOO_LARGE',
  TooManyAlerts: 'RCV_ERR_TOO_MANY_ALERTS',
  PayloadShape: 'RCV_ERR_PAYLOAD_SHAPE',
  Busy: 'RCV_ERR_BUSY',
  AnswerDeadline: 'RCV_ERR_ANSWER_DEADLINE',
  UnsupportedMediaType: 'RCV_ERR_UNSUPPORTED_MEDIA_TYPE',
  NotFound: 'RCV_ERR_NOT_FOUND',
  TooManyInvalidTokens: 'RCV_ERR_TOO_MANY_INVALID_TOKENS',
  RateLimited: 'RCV_ERR_RATE_LIMITED',
  QuotaExceeded: 'RCV_ERR_QUOTA_EXCEEDED',
  QuotaNotCounted: 'RCV_ERR_QUOTA_NOT_COUNTED',
  BadRequest: 'RCV_ERR_BAD_REQUEST',
  KubeUnavailable: 'RCV_ERR_KUBE_UNAVAILABLE',
  KubeRejected: 'RCV_ERR_KUBE_REJECTED',
  Internal: 'RCV_ERR_INTERNAL',
} as const;
export type ReceiverErrorCode = (typeof ReceiverErrorCode)[keyof typeof ReceiverErrorCode];

export class ReceiverError extends Error {
  readonly code: ReceiverErrorCode;
  readonly statusCode: number;
  readonly issues: readonly FieldIssue[] | undefined;
  /** Seconds, for 429 and 503 answers. */
  readonly retryAfter: number | undefined;

  constructor(
    code: ReceiverErrorCode,
    statusCode: number,
    message: string,
    extra: { issues?: readonly FieldIssue[]; retryAfter?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: extra.cause });
    this.name = 'ReceiverError';
    this.code = code;
    this.statusCode = statusCode;
    this.issues = extra.issues;
    this.retryAfter = extra.retryAfter;
  }

  toJSON(): { code: ReceiverErrorCode; message: string; issues?: readonly FieldIssue[] } {
    const body = { code: this.code, message: this.message };
    return this.issues ? { ...body, issues: this.issues } : body;
  }
}

/** The body does not match its endpoint's schema or a receiver limit; `issues` names every field. */
export function invalidBody(issues: readonly FieldIssue[]): ReceiverError {
  const shown = issues.slice(0, 5).map((i) => `${i.path || '<root>'}: ${i.message}`);
  const more = issues.length > shown.length ? ` (and ${issues.length - shown.length} more)` : '';
  return new ReceiverError(
    ReceiverErrorCode.InvalidBody,
    400,
    `invalid request body: ${shown.join('; ')}${more}`,
    { issues },
  );
}

/** The namespace has written as many alarms as its rate allows for now (the receiver's own limit). */
export class NamespaceOverRateError extends Error {
  constructor() {
    super('the namespace is over its rate');
    this.name = 'NamespaceOverRateError';
  }
}
