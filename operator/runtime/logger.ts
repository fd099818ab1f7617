import { type DestinationStream, type Logger, type LoggerOptions, pino, stdSerializers } from 'pino';

/**
 * JSON logs that never carry a credential. Two layers:
 * - redaction of fields whose names look secret (token, secret, webhook, authorization, clientSecret…)
 *   at the top level and one level down;
 * - scrubbing of credential query values (access_token=, sign=, …) inside any string, so a URL in a
 *   message, an error or a nested field is safe too.
 */

export type { Logger } from 'pino';

const SECRET_FIELDS = [
  'token',
  'accessToken',
  'access_token',
  'secret',
  'clientSecret',
  'appSecret',
  'webhook',
  'authorization',
  'Authorization',
  'password',
  'sign',
  'signature',
];

export const redactPaths: readonly string[] = [
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((field) => `*.${field}`),
  'headers.authorization',
  'req.headers.authorization',
  'data',
  'stringData',
];

const SECRET_QUERY = /([?&](?:access_token|accessToken|sign|signature|token|secret|appsecret)=)[^&#\s"']*/gi;

/** Replaces the values of credential-bearing query parameters in any text with `[REDACTED]`. */
export function redactUrl(text: string): string {
  return text.replace(SECRET_QUERY, '$1[REDACTED]');
}

const MAX_SCRUB_DEPTH = 6;

/** A copy of `value` with redactUrl applied to every string in it. */
export function scrubStrings(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactUrl(value);
  if (depth >= MAX_SCRUB_DEPTH || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => scrubStrings(item, depth + 1));
  if (value instanceof Error) return scrubStrings(stdSerializers.err(value), depth);
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) copy[key] = scrubStrings(item, depth + 1);
  return copy;
}

export interface LoggerConfig {
  level: string;
  /** Where lines go; stdout when omitted (tests pass a stream to read them back). */
  destination?: DestinationStream;
}

export function createLogger({ level, destination }: LoggerConfig): Logger {
  const options: LoggerOptions = {
    level,
    base: { component: 'dingtalk-operator' },
    redact: { paths: [...redactPaths], censor: '[REDACTED]' },
    serializers: {
      // formatters.log has usually serialised and scrubbed the error already.
      err: (err: unknown) => (err instanceof Error ? scrubStrings(stdSerializers.err(err)) : err),
    },
    formatters: {
      level: (label) => ({ level: label }),
      log: (fields) => scrubStrings(fields) as Record<string, unknown>,
    },
    hooks: {
      logMethod(args, method) {
        // Objects are scrubbed by formatters.log; here only the message strings.
        const scrubbed = args.map((arg) => (typeof arg === 'string' ? redactUrl(arg) : arg));
        // pino would use an error's own message as the line's message.
        const [first, second] = args;
        if (first instanceof Error && typeof second !== 'string')
          scrubbed.splice(1, 0, redactUrl(first.message));
        method.apply(this, scrubbed as Parameters<typeof method>);
      },
    },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination ? pino(options, destination) : pino(options);
}

/** The logger a controller's reconciles derive from. */
export function controllerLogger(root: Logger, controller: string): Logger {
  return root.child({ controller });
}

/** One reconcile's logger: every line names the object and the reconcile it belongs to. */
export function reconcileLogger(
  controllerLog: Logger,
  fields: { namespace: string; name: string; reconcileId: string; generation?: number },
): Logger {
  return controllerLog.child(fields);
}
