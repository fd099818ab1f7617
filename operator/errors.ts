/**
 * The operator's error catalogue. Codes are stable: logs, metrics and tests match on them, never on
 * messages. Subclasses carry what a caller needs to decide (retry or not, which condition reason).
 */
export const ErrorCode = {
  Config: 'OP_ERR_CONFIG',
  Terminal: 'OP_ERR_TERMINAL',
  KubeApi: 'OP_ERR_KUBE_API',
  KubeUnavailable: 'OP_ERR_KUBE_UNAVAILABLE',
  WatchExpired: 'OP_ERR_WATCH_EXPIRED',
  InvalidCondition: 'OP_ERR_INVALID_CONDITION',
  LeaderElectionLost: 'OP_ERR_LEADER_ELECTION_LOST',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class OperatorError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Invalid flags or environment; `issues` holds one readable line per bad value. */
export class ConfigError extends OperatorError {
  readonly issues: readonly string[];

  constructor(issues: readonly string[]) {
    super(ErrorCode.Config, `invalid configuration:\n  ${issues.join('\n  ')}`);
    this.issues = issues;
  }
}

/**
 * A failure that retrying cannot fix (the object's spec must change first). Controllers do not requeue
 * it; reconcilers turn it into Ready=False + Stalled=True with `reason`.
 */
export class TerminalError extends OperatorError {
  readonly reason: string;

  constructor(reason: string, message: string, options?: ErrorOptions) {
    super(ErrorCode.Terminal, message, options);
    this.reason = reason;
  }
}

/** The parts of a metav1.Status that callers branch on. */
export interface KubeStatus {
  reason?: string;
  message?: string;
  code?: number;
}

/** A non-2xx answer from the Kubernetes API, with the Status body parsed. */
export class KubeApiError extends OperatorError {
  readonly status: number;
  readonly reason: string | undefined;

  constructor(status: number, kubeStatus: KubeStatus | undefined, options?: ErrorOptions) {
    const reason = kubeStatus?.reason;
    const detail = kubeStatus?.message ?? reason ?? 'no details';
    super(ErrorCode.KubeApi, `Kubernetes API answered ${status}: ${detail}`, options);
    this.status = status;
    this.reason = reason;
  }

  /** From a raw HTTP status and body text (the body is a metav1.Status when the API server wrote it). */
  static fromResponse(status: number, body: string, options?: ErrorOptions): KubeApiError {
    return new KubeApiError(status, parseStatus(body), options);
  }
}

/**
 * The Kubernetes API server could not be reached, timed out, or answered 5xx/429 (runtime/kube-http.ts):
 * worth retrying. The receiver answers 503 with it, so the caller retries (Alertmanager does on 5xx).
 */
export class KubeUnavailableError extends OperatorError {
  /** Seconds the API server asked for with its own Retry-After, if it did. */
  readonly retryAfter: number | undefined;

  constructor(message: string, retryAfter?: number, options?: ErrorOptions) {
    super(ErrorCode.KubeUnavailable, message, options);
    this.retryAfter = retryAfter;
  }
}

/** A watch or a paginated list can no longer continue from its resourceVersion (410 Gone). */
export class WatchExpiredError extends OperatorError {
  constructor(message: string) {
    super(ErrorCode.WatchExpired, message);
  }
}

export class LeaderElectionLostError extends OperatorError {
  constructor(message: string) {
    super(ErrorCode.LeaderElectionLost, message);
  }
}

/**
 * The KubeApiError behind an error, also from client-node's ApiException (tests and the kubeconfig
 * fallback still use client-node), or undefined for errors that did not come from an API answer
 * (network, abort, 5xx: KubeUnavailableError). ApiException.body is the raw response text.
 */
export function toKubeApiError(err: unknown): KubeApiError | undefined {
  if (err instanceof KubeApiError) return err;
  if (isApiException(err)) {
    const body = typeof err.body === 'string' ? parseStatus(err.body) : (err.body as KubeStatus | undefined);
    return new KubeApiError(err.code, body, { cause: err });
  }
  return undefined;
}

/**
 * client-node's ApiException, recognised by its shape rather than by class: importing the class would
 * load all of client-node into processes that never call it (the receiver).
 */
function isApiException(err: unknown): err is Error & { code: number; body: unknown } {
  return (
    err instanceof Error &&
    typeof (err as { code?: unknown }).code === 'number' &&
    'body' in err &&
    err.message.startsWith('HTTP-Code: ')
  );
}

export function isNotFound(err: unknown): boolean {
  return toKubeApiError(err)?.status === 404;
}

export function isConflict(err: unknown): boolean {
  return toKubeApiError(err)?.status === 409;
}

function parseStatus(body: string): KubeStatus | undefined {
  try {
    const parsed: unknown = JSON.parse(body);
    return typeof parsed === 'object' && parsed !== null ? (parsed as KubeStatus) : undefined;
  } catch {
    return body ? { message: body.slice(0, 512) } : undefined;
  }
}
