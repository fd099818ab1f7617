import Fastify, { type FastifyError, type FastifyReply, type FastifyRequest, LogController } from 'fastify';
import type { Logger } from 'pino';
import { GROUP } from '../api/index.ts';
import { DNS_LABEL } from '../config.ts';
import { type KubeApiError, KubeUnavailableError, toKubeApiError } from '../errors.ts';
import type { Caller, Gatekeeper } from './auth.ts';
import { measureAlarmBatch, parseAlertPayload } from './bounded-json.ts';
import { BytesInFlight, type BytesInFlightLimits } from './bytes-in-flight.ts';
import { invalidBody, NamespaceOverRateError, ReceiverError, ReceiverErrorCode } from './errors.ts';
import {
  type IntakeLimits,
  intakeAlarms,
  intakeAlerts,
  PAYLOAD_KINDS,
  type PayloadKind,
  type ReceivedAlarm,
  type RejectedAlert,
} from './intake.ts';
import type { ReceiverMetrics } from './metrics.ts';
import { type PersistOutcome, persist, type RecentWrites } from './persist.ts';
import { KeyedRateLimiter, type RateLimit } from './rate-limit.ts';
import type { RejectionRecorder } from './rejections.ts';
import { type ConnectionLimits, serverOptions } from './server-options.ts';
import type { AlarmEventStore } from './store.ts';

/**
 * The receiver's HTTP API:
 *   POST /api/v1/{alarms,alertmanager,grafana}                    (namespace: ?namespace= or the default)
 *   POST /api/v1/namespaces/{namespace}/{alarms,alertmanager,grafana}
 *   GET  /healthz, /readyz, /metrics
 *
 * A POST is authenticated and authorised before its body is read (onRequest), and admitted only while
 * the bodies held stay within their bounds (bytes-in-flight.ts; else 503 with Retry-After, unread). Its
 * body is then parsed (JSON only → 415, malformed → 400; over the size limit → 413 on /alarms, 503 for
 * Alertmanager and Grafana, which would drop a 4xx'd group for good; their bodies are measured before
 * they are parsed, bounded-json.ts), validated (intake.ts), and its AlarmEvents written
 * (persist.ts). 202 only once every storable alarm is in the API server; 503 with Retry-After when the
 * API server cannot take them or the answer deadline comes first, after writing what it could. Resolving
 * alarms needs the right to patch AlarmEvents as well. A namespace that has written more alarms than its
 * rate allows, or holds as many AlarmEvents as its ResourceQuota does, is answered 429 with Retry-After,
 * also after writing what it could.
 */

/** Records which request it was and who sent it, for the AlarmEvent's annotation. */
export const SUBMITTED_BY_ANNOTATION = `${GROUP}/submitted-by`;

export interface ReceiverAppOptions {
  store: AlarmEventStore;
  gatekeeper: Gatekeeper;
  /** Namespace of alarms whose request names none. */
  defaultNamespace: string;
  limits: IntakeLimits & { maxBodyBytes: number; maxAlertPayloadBytes: number; maxAlertsPerPayload: number };
  /** Request bodies held at once, in bytes. */
  bytesInFlight: BytesInFlightLimits;
  writes: {
    concurrency: number;
    /** Milliseconds from the request's arrival after which no write is started and it is answered. */
    deadlineMs: number;
    recent?: RecentWrites;
  };
  /** Where alerts set aside as invalid are reported (besides the answer and a metric). */
  rejections?: RejectionRecorder;
  connections: ConnectionLimits;
  /** AlarmEvent writes a namespace may cause (in this replica). */
  namespaceRate: RateLimit;
  /** Retry-After (seconds) on 503, and on 429 for a ResourceQuota, when the API server did not say. */
  retryAfterSeconds: number;
  logger: Logger;
  metrics: ReceiverMetrics;
  /** False while shutting down, so the pod leaves the Service before it stops serving. */
  ready: () => boolean;
  now?: () => Date;
}

declare module 'fastify' {
  interface FastifyRequest {
    alarmTarget: { namespace: string; caller: Caller } | null;
  }
  interface FastifyContextConfig {
    payloadKind?: PayloadKind;
  }
}

export function buildReceiverApp(options: ReceiverAppOptions) {
  const { logger, metrics, limits } = options;
  const now = options.now ?? (() => new Date());
  const namespaceRate = new KeyedRateLimiter(options.namespaceRate, { now: () => now().getTime() });
  const bytesInFlight = new BytesInFlight(options.bytesInFlight);
  const app = Fastify({
    ...serverOptions(options.connections, () => metrics.recordConnectionRefused()),
    loggerInstance: logger,
    // One line per alarm request, written in onResponse with the caller and namespace.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: limits.maxBodyBytes,
    // A request that arrives on an open connection while the receiver shuts down is served as usual
    // (answered with Connection: close, so the caller's next request goes to another replica): Fastify's
    // own 503 for it would carry no Retry-After, and a sender could not tell when to try again.
    return503OnClosing: false,
  });
  // Alarm bodies are JSON; anything else is answered 415 rather than guessed at.
  app.removeContentTypeParser(['text/plain', 'application/json']);
  // Bodies are measured before they are parsed (bounded-json.ts). The native endpoint refuses a
  // `__proto__` key outright; Alertmanager's and Grafana's set aside only the alert holding it (intake.ts).
  const strictJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const kind = request.routeOptions.config.payloadKind;
    const bytes = body as Buffer;
    try {
      if (kind === 'alertmanager' || kind === 'grafana') {
        return done(
          null,
          parseAlertPayload(bytes, { ...limits, retryAfterSeconds: options.retryAfterSeconds }),
        );
      }
      measureAlarmBatch(bytes, limits);
    } catch (err) {
      return done(err as Error, undefined);
    }
    strictJson(request, bytes.toString('utf8'), done);
  });
  app.decorateRequest('alarmTarget', null);

  app.setErrorHandler((err: FastifyError, request, reply) =>
    sendError(toReceiverError(err, options, request.routeOptions.config.payloadKind), request, reply),
  );
  app.setNotFoundHandler((request, reply) =>
    sendError(
      new ReceiverError(
        ReceiverErrorCode.NotFound,
        404,
        `no route ${request.method} ${request.url.split('?')[0]}: alarms go to POST /api/v1/[namespaces/{namespace}/]{${PAYLOAD_KINDS.join(',')}}`,
      ),
      request,
      reply,
    ),
  );

  app.addHook('onResponse', async (request, reply) => {
    const kind = request.routeOptions.config.payloadKind;
    if (!kind) return;
    const seconds = reply.elapsedTime / 1000;
    metrics.recordRequest(kind, reply.statusCode, seconds);
    request.log.info(
      {
        method: request.method,
        url: request.url,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
        caller: request.alarmTarget?.caller.username,
        namespace: request.alarmTarget?.namespace,
      },
      'alarm request',
    );
  });

  for (const kind of PAYLOAD_KINDS) {
    for (const url of [`/api/v1/${kind}`, `/api/v1/namespaces/:namespace/${kind}`]) {
      app.post(url, {
        config: { payloadKind: kind },
        bodyLimit: kind === 'alarms' ? limits.maxBodyBytes : limits.maxAlertPayloadBytes,
        onRequest: async (request, reply) => {
          const namespace = targetNamespace(request, options.defaultNamespace);
          const caller = await options.gatekeeper.admit(request.headers.authorization, namespace, request.ip);
          request.alarmTarget = { namespace, caller };
          const bound = kind === 'alarms' ? limits.maxBodyBytes : limits.maxAlertPayloadBytes;
          const bytes = declaredLength(request, bound);
          // A body over the bound is refused by its length, unread, and so holds nothing.
          if (bytes > bound) return;
          const release = bytesInFlight.reserve(namespace, bytes);
          if (!release) throw busy(namespace, bytes, bytesInFlight, options);
          // Held until the answer is sent or the connection is gone, whichever comes first.
          reply.raw.once('close', release);
        },
        handler: async (request, reply) => {
          const { namespace, caller } = request.alarmTarget as { namespace: string; caller: Caller };
          // Reading the body counted against the caller's timeout too.
          const deadline = now().getTime() + options.writes.deadlineMs - reply.elapsedTime;
          const recent = options.writes.recent;
          const { alarms, rejected, known } =
            kind === 'alarms'
              ? { alarms: intakeAlarms(request.body, limits, now()), rejected: [], known: [] }
              : intakeAlerts(kind, request.body, limits, now(), (name, state) =>
                  recent ? recent.has(namespace, name, state) : false,
                );
          if ([...alarms.map(({ spec }) => spec), ...known].some(({ state }) => state === 'resolved')) {
            await options.gatekeeper.authorize(caller, namespace, 'patch');
          }
          const outcome = await persist(
            options.store,
            namespace,
            alarms,
            { [SUBMITTED_BY_ANNOTATION]: `${caller.username} via ${kind}` },
            {
              concurrency: options.writes.concurrency,
              deadline,
              now: () => now().getTime(),
              recent,
              // Only writes count: what was stored lately costs the namespace nothing when re-sent.
              mayWrite: () => namespaceRate.take(namespace) === 0,
            },
          );
          outcome.written.unshift(
            ...known.map(({ name, state }) => ({ name, state, result: 'exists' as const })),
          );
          for (const { result } of outcome.written) metrics.recordWrite(kind, result);
          const refused = outcome.refused[0];
          // The native endpoint validated the whole batch: a refusal is a rule the receiver missed.
          if (kind === 'alarms' && refused) throw refused.error;
          rejected.push(...outcome.refused.map(({ alarm, error }) => refusedAlert(alarm, error)));
          if (kind !== 'alarms' && rejected.length > 0) {
            metrics.recordRejected(kind, namespace, rejected.length);
            await options.rejections?.record({
              namespace,
              kind,
              total: alarms.length + known.length + rejected.length,
              rejected,
            });
          }
          const unfinished = outcome.left > 0 ? unfinishedError(outcome, options) : undefined;
          if (outcome.stoppedBy !== undefined && !unfinished) throw outcome.stoppedBy;
          if (unfinished) return sendUnfinished(reply, namespace, outcome, rejected, unfinished);
          if (alarms.length + known.length === 0 && rejected.length > 0) {
            throw invalidBody(rejected.flatMap((alert) => alert.issues));
          }
          const answer = { namespace, accepted: outcome.written.length, alarms: outcome.written };
          return reply.code(202).send(rejected.length > 0 ? { ...answer, rejected } : answer);
        },
      });
    }
  }

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) =>
    options.ready() ? { status: 'ok' } : reply.code(503).send({ status: 'shutting down' }),
  );
  app.get('/metrics', async (_request, reply) =>
    reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
  return app;
}

function targetNamespace(request: FastifyRequest, defaultNamespace: string): string {
  const fromPath = (request.params as { namespace?: string }).namespace;
  const query = (request.query as { namespace?: unknown }).namespace;
  if (query !== undefined && typeof query !== 'string') {
    throw badNamespace('?namespace= must be given once');
  }
  if (fromPath !== undefined && query !== undefined && query !== fromPath) {
    throw badNamespace(`the path names namespace "${fromPath}" and ?namespace= names "${query}": give one`);
  }
  const namespace = fromPath ?? query ?? defaultNamespace;
  if (!DNS_LABEL.test(namespace)) {
    throw badNamespace(`"${namespace.slice(0, 100)}" is not a namespace name (lowercase RFC 1123 label)`);
  }
  return namespace;
}

/** What a body will hold: its Content-Length, or the endpoint's bound for one sent in chunks. */
function declaredLength(request: FastifyRequest, bound: number): number {
  const length = Number(request.headers['content-length']);
  return Number.isSafeInteger(length) && length >= 0 ? length : bound;
}

function busy(
  namespace: string,
  bytes: number,
  held: BytesInFlight,
  options: ReceiverAppOptions,
): ReceiverError {
  const { total, perNamespace } = options.bytesInFlight;
  const which =
    held.held(namespace) + bytes > perNamespace
      ? `namespace ${namespace} has ${held.held(namespace)} bytes of requests in flight, and ${bytes} more would pass --max-namespace-bytes-in-flight (${perNamespace})`
      : `the receiver has ${held.held()} bytes of requests in flight, and ${bytes} more would pass --max-bytes-in-flight (${total})`;
  return new ReceiverError(ReceiverErrorCode.Busy, 503, `${which}; nothing was read, retry later`, {
    retryAfter: options.retryAfterSeconds,
  });
}

function badNamespace(message: string): ReceiverError {
  return new ReceiverError(ReceiverErrorCode.InvalidNamespace, 400, message, {
    issues: [{ path: 'namespace', message }],
  });
}

/**
 * Why writing stopped before every alarm was stored, as the answer to give: 503 when the API server cannot
 * take more, the deadline came or the namespace's ResourceQuota is not counted yet, 429 when the namespace
 * is over its rate or its ResourceQuota. Undefined for a failure no retry mends (access denied, namespace
 * missing), which is answered as an error.
 */
function unfinishedError(
  { written, left, stoppedBy }: PersistOutcome,
  options: ReceiverAppOptions,
): ReceiverError | undefined {
  const progress = `${written.length} of ${written.length + left} alarms stored`;
  if (stoppedBy === undefined) {
    return new ReceiverError(
      ReceiverErrorCode.AnswerDeadline,
      503,
      `${progress} within the ${options.writes.deadlineMs / 1000}s answer deadline; retry for the rest (what is stored is skipped)`,
      // Nothing is wrong: the retry may come at once.
      { retryAfter: 1 },
    );
  }
  if (stoppedBy instanceof KubeUnavailableError) {
    return new ReceiverError(
      ReceiverErrorCode.KubeUnavailable,
      503,
      `the Kubernetes API server cannot take the alarms now (${stoppedBy.message}); ${progress}, retry for the rest`,
      { retryAfter: stoppedBy.retryAfter ?? options.retryAfterSeconds, cause: stoppedBy },
    );
  }
  if (stoppedBy instanceof NamespaceOverRateError) {
    const { perSecond, burst } = options.namespaceRate;
    return new ReceiverError(
      ReceiverErrorCode.RateLimited,
      429,
      `the namespace writes more than ${perSecond} alarms a second (burst ${burst}); ${progress}, retry later for the rest`,
      // When the rest (up to a burst) fits again.
      { retryAfter: Math.max(1, Math.ceil(Math.min(left, burst) / perSecond)) },
    );
  }
  const kubeError = toKubeApiError(stoppedBy);
  if (kubeError?.status === 403 && /exceeded quota/.test(kubeError.message)) {
    return new ReceiverError(
      ReceiverErrorCode.QuotaExceeded,
      429,
      `the namespace holds as many AlarmEvents as its ResourceQuota allows (${kubeError.message}); ${progress}, retry later or raise the quota`,
      { retryAfter: options.retryAfterSeconds, cause: stoppedBy },
    );
  }
  if (kubeError?.status === 403 && /status unknown for quota/.test(kubeError.message)) {
    // The API server refuses every create until the quota controller has counted the namespace's
    // AlarmEvents, which a new quota or a newly installed CRD waits for: a 403 would make the sender drop
    // the group, though the next resync admits it.
    return new ReceiverError(
      ReceiverErrorCode.QuotaNotCounted,
      503,
      `the namespace's ResourceQuota has not counted its AlarmEvents yet (${kubeError.message}); ${progress}, retry for the rest`,
      { retryAfter: options.retryAfterSeconds, cause: stoppedBy },
    );
  }
  return undefined;
}

/** The answer with what was stored: the retry stores the rest, skipping what is there. */
function sendUnfinished(
  reply: FastifyReply,
  namespace: string,
  { written, left }: PersistOutcome,
  rejected: RejectedAlert[],
  error: ReceiverError,
): FastifyReply {
  if (error.code === ReceiverErrorCode.KubeUnavailable) reply.log.error({ err: error.cause }, error.message);
  reply.header('retry-after', String(error.retryAfter));
  return reply.code(error.statusCode).send({
    ...error.toJSON(),
    namespace,
    accepted: written.length,
    left,
    alarms: written,
    ...(rejected.length > 0 ? { rejected } : {}),
  });
}

/** An alarm the API server refused for good, reported like the ones the receiver set aside itself. */
function refusedAlert({ path, spec }: ReceivedAlarm, error: unknown): RejectedAlert {
  const message = toKubeApiError(error)?.message ?? String(error);
  return {
    path,
    fingerprint: spec.fingerprint,
    issues: [{ path, message: `refused by the API server: ${message}` }],
  };
}

function toReceiverError(err: unknown, options: ReceiverAppOptions, kind?: PayloadKind): ReceiverError {
  if (err instanceof ReceiverError) return err;
  if (err instanceof KubeUnavailableError) {
    return new ReceiverError(
      ReceiverErrorCode.KubeUnavailable,
      503,
      `the Kubernetes API server cannot take the alarms now (${err.message}); nothing was accepted, retry later`,
      { retryAfter: err.retryAfter ?? options.retryAfterSeconds, cause: err },
    );
  }
  const kubeError = toKubeApiError(err);
  if (kubeError) return fromKubeApiError(kubeError);
  const fastifyError = err as Partial<FastifyError>;
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      if (kind === 'alertmanager' || kind === 'grafana') {
        // A 4xx would make the sender drop the whole group for good; a 503 keeps it, and the sender's
        // failure metrics show it. The group fits once it shrinks, or the limit is raised.
        return new ReceiverError(
          ReceiverErrorCode.PayloadTooLarge,
          503,
          `the payload is larger than ${options.limits.maxAlertPayloadBytes} bytes (--max-alert-payload-bytes); nothing was stored`,
          { retryAfter: options.retryAfterSeconds },
        );
      }
      return new ReceiverError(
        ReceiverErrorCode.BodyTooLarge,
        413,
        `the body is larger than ${options.limits.maxBodyBytes} bytes: send fewer alarms per request`,
      );
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ReceiverError(
        ReceiverErrorCode.UnsupportedMediaType,
        415,
        'the body must be JSON, sent with Content-Type: application/json',
      );
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ReceiverError(ReceiverErrorCode.MalformedJson, 400, 'the body is empty; expected JSON');
  }
  const status = fastifyError.statusCode;
  if (
    status === 400 &&
    (err instanceof SyntaxError || fastifyError.code === 'FST_ERR_CTP_INVALID_JSON_BODY')
  ) {
    return new ReceiverError(
      ReceiverErrorCode.MalformedJson,
      400,
      `the body is not valid JSON: ${fastifyError.message}`,
    );
  }
  if (status !== undefined && status >= 400 && status < 500) {
    return new ReceiverError(ReceiverErrorCode.BadRequest, status, fastifyError.message ?? 'bad request');
  }
  return new ReceiverError(ReceiverErrorCode.Internal, 500, 'internal error; see the receiver log', {
    cause: err,
  });
}

function fromKubeApiError(err: KubeApiError): ReceiverError {
  if (err.status === 404) {
    return new ReceiverError(
      ReceiverErrorCode.NamespaceNotFound,
      404,
      `the API server does not know the target: ${err.message}`,
      { cause: err },
    );
  }
  // The receiver's own RBAC or an API server rule the receiver did not foresee: an operator must look.
  return new ReceiverError(ReceiverErrorCode.KubeRejected, 500, `the API server refused: ${err.message}`, {
    cause: err,
  });
}

function sendError(err: ReceiverError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (err.statusCode >= 500) request.log.error({ err: err.cause ?? err, code: err.code }, err.message);
  if (err.retryAfter !== undefined) reply.header('retry-after', String(err.retryAfter));
  if (err.statusCode === 401) reply.header('www-authenticate', 'Bearer realm="dingtalk-operator-receiver"');
  return reply.code(err.statusCode).send(err.toJSON());
}
