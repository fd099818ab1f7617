import { z } from 'zod';
import {
  type ConfigInput,
  DNS_LABEL,
  describe,
  duration,
  integer,
  loadSettings,
  queriesPerSecond,
  serviceAccountNamespace,
  setting,
} from '../config.ts';

/**
 * The receiver's configuration, built like the operator's (operator/config.ts): every setting is a flag
 * and an environment variable (the flag wins), and `receiverConfigSchema` carries both plus a
 * description as metadata, so reference docs and the chart's container args can be generated from it.
 */

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const ENV = 'DINGTALK_OPERATOR_RECEIVER_';
/** The audience a caller's projected ServiceAccount token is requested for, unless configured otherwise. */
export const DEFAULT_TOKEN_AUDIENCE = 'dingtalk-operator-receiver';

function commaList(item: RegExp, message: string) {
  return setting(message, (raw) => {
    const items = raw
      .split(',')
      .map((part) => part.trim())
      .filter(Boolean);
    return items.length > 0 && items.every((part) => item.test(part)) ? items : undefined;
  });
}

function rate(max: number) {
  return setting(`must be a number between 0.01 and ${max}`, (raw) => {
    if (!/^\d+(\.\d+)?$/.test(raw)) return undefined;
    const value = Number(raw);
    return value >= 0.01 && value <= max ? value : undefined;
  });
}

const receiverSettings = z.object({
  kubeconfig: describe(z.string().min(1).optional(), {
    flag: '--kubeconfig',
    description:
      'Path to a kubeconfig. Default: $KUBECONFIG, else in-cluster credentials when KUBERNETES_SERVICE_HOST is set, else ~/.kube/config. HTTPS_PROXY and NO_PROXY apply unless the kubeconfig names a proxy-url.',
  }),
  namespace: describe(
    setting('must be a namespace name', (raw) => (DNS_LABEL.test(raw) ? raw : undefined)),
    {
      flag: '--namespace',
      env: 'POD_NAMESPACE',
      description:
        "Namespace for alarms whose request names none (in the path or ?namespace=). Default: the pod's own namespace, else `default`.",
    },
  ),
  address: describe(
    setting('must be an IP address or host name', (raw) =>
      raw && !/\s/.test(raw) ? raw : undefined,
    ).prefault('0.0.0.0'),
    { flag: '--address', env: `${ENV}ADDRESS`, description: 'Bind address of the HTTP server.' },
  ),
  port: describe(integer(0, 65535).prefault('8080'), {
    flag: '--port',
    env: `${ENV}PORT`,
    description: 'Port of the HTTP server (alarms, /healthz, /readyz, /metrics); 0 picks a free port.',
  }),
  staticTokenFile: describe(z.string().min(1).optional(), {
    flag: '--static-token-file',
    env: `${ENV}STATIC_TOKEN_FILE`,
    description:
      'File holding a bearer token (e.g. mounted from a Secret) that callers outside the cluster may present instead of a ServiceAccount token, for the namespaces of --static-token-namespaces only. Re-read when it changes. Default: none, only ServiceAccount tokens are accepted.',
  }),
  staticTokenNamespaces: describe(
    commaList(DNS_LABEL, 'must be a comma-separated list of namespace names').optional(),
    {
      flag: '--static-token-namespaces',
      env: `${ENV}STATIC_TOKEN_NAMESPACES`,
      description:
        'Namespaces the static token may post alarms to (and resolve them in), comma-separated; other namespaces answer 403. Default: the --namespace of alarms whose request names none.',
    },
  ),
  tokenAudiences: describe(
    commaList(/^[^\s,]{1,253}$/, 'must be a comma-separated list of audiences').prefault(
      DEFAULT_TOKEN_AUDIENCE,
    ),
    {
      flag: '--token-audiences',
      env: `${ENV}TOKEN_AUDIENCES`,
      description:
        "Audiences a caller's ServiceAccount token must have been issued for (a projected token volume's `audience`), comma-separated. The TokenReview asks for them and its answer must name one; a token meant for the API server is refused, so the receiver never holds a token it could use against the API server.",
    },
  ),
  invalidTokenReviewsPerClient: describe(integer(1, 10_000).prefault('10'), {
    flag: '--invalid-token-reviews-per-client',
    env: `${ENV}INVALID_TOKEN_REVIEWS_PER_CLIENT`,
    description:
      'TokenReviews per minute one client address may cause with tokens that prove invalid (reviews of valid tokens are not counted); beyond it, new tokens from that address are answered 429 with Retry-After without a review.',
  }),
  invalidTokenReviews: describe(integer(1, 100_000).prefault('100'), {
    flag: '--invalid-token-reviews',
    env: `${ENV}INVALID_TOKEN_REVIEWS`,
    description:
      'TokenReviews per minute all clients together may cause with tokens that prove invalid; beyond it, new tokens are answered 429 with Retry-After (tokens already reviewed keep working).',
  }),
  maxBodyBytes: describe(integer(1024, 64 << 20).prefault(String(1 << 20)), {
    flag: '--max-body-bytes',
    env: `${ENV}MAX_BODY_BYTES`,
    description: 'Largest request body accepted on /alarms, in bytes; larger bodies are answered 413.',
  }),
  maxBatch: describe(integer(1, 10_000).prefault('1000'), {
    flag: '--max-batch',
    env: `${ENV}MAX_BATCH`,
    description: 'Most alarms in one request to /alarms; more are answered 400.',
  }),
  maxAlertPayloadBytes: describe(integer(1024, 256 << 20).prefault(String(4 << 20)), {
    flag: '--max-alert-payload-bytes',
    env: `${ENV}MAX_ALERT_PAYLOAD_BYTES`,
    description:
      "Largest Alertmanager or Grafana payload accepted, in bytes; larger ones are answered 503 so the sender keeps them and retries. A payload costs several times its size in heap while it is handled: the default is what the chart's memory limit holds four of.",
  }),
  maxAlertsPerPayload: describe(integer(1, 1_000_000).prefault('20000'), {
    flag: '--max-alerts-per-payload',
    env: `${ENV}MAX_ALERTS_PER_PAYLOAD`,
    description:
      'Most alerts in one Alertmanager or Grafana payload, counted before it is parsed; more are answered 503 so the sender keeps them. The default is more than a payload of --max-alert-payload-bytes holds of real alerts.',
  }),
  maxBytesInFlight: describe(integer(1024, 1 << 30).prefault(String(16 << 20)), {
    flag: '--max-bytes-in-flight',
    env: `${ENV}MAX_BYTES_IN_FLIGHT`,
    description:
      "Request bodies held at once by this receiver, in bytes (a request's Content-Length, or its endpoint's bound when it has none, held from arrival to answer); a request beyond it is answered 503 with Retry-After without being read. Bounds the receiver's memory whatever the number of callers.",
  }),
  maxNamespaceBytesInFlight: describe(integer(1024, 1 << 30).prefault(String(8 << 20)), {
    flag: '--max-namespace-bytes-in-flight',
    env: `${ENV}MAX_NAMESPACE_BYTES_IN_FLIGHT`,
    description:
      'Request bodies held at once for one namespace, in bytes; beyond it that namespace is answered 503 with Retry-After, and the rest of --max-bytes-in-flight stays for the others.',
  }),
  writeConcurrency: describe(integer(1, 256).prefault('16'), {
    flag: '--write-concurrency',
    env: `${ENV}WRITE_CONCURRENCY`,
    description: 'AlarmEvents of one request written to the API server at the same time.',
  }),
  answerDeadline: describe(duration(1000, 600_000).prefault('8s'), {
    flag: '--answer-deadline',
    env: `${ENV}ANSWER_DEADLINE`,
    description:
      "How long a request may spend writing AlarmEvents; then it is answered 503 and the retry writes the rest. Keep it below the caller's timeout (Alertmanager: at least 10s, or the webhook's timeout).",
  }),
  maxLabels: describe(integer(1, 64).prefault('64'), {
    flag: '--max-labels',
    env: `${ENV}MAX_LABELS`,
    description: 'Most labels (and most annotations) on one alarm; more are answered 400.',
  }),
  maxLabelLength: describe(integer(1, 1024).prefault('1024'), {
    flag: '--max-label-length',
    env: `${ENV}MAX_LABEL_LENGTH`,
    description: 'Longest label name or value, in characters; longer ones are answered 400.',
  }),
  authCacheTtl: describe(duration(0, 60_000).prefault('30s'), {
    flag: '--auth-cache-ttl',
    env: `${ENV}AUTH_CACHE_TTL`,
    description:
      'How long a TokenReview or SubjectAccessReview answer is reused (denials at most 5s, errors never); at most 1m, so a revoked token or a removed RoleBinding stops working within a minute. 0s disables the cache.',
  }),
  authCacheSize: describe(integer(1, 1_000_000).prefault('10000'), {
    flag: '--auth-cache-size',
    env: `${ENV}AUTH_CACHE_SIZE`,
    description: 'Most answers kept in each of the two review caches; the least recently used go first.',
  }),
  kubeRequestTimeout: describe(duration(100, 120_000).prefault('10s'), {
    flag: '--kube-request-timeout',
    env: `${ENV}KUBE_REQUEST_TIMEOUT`,
    description:
      'How long one Kubernetes API call may take, waits for the rate limit and retries of 429 included, before the request is answered 503.',
  }),
  kubeApiQps: describe(queriesPerSecond().prefault('200'), {
    flag: '--kube-api-qps',
    env: `${ENV}KUBE_API_QPS`,
    description:
      "Kubernetes API calls per second once --kube-api-burst is spent, as client-go's QPS: about one per alarm, plus a TokenReview and a SubjectAccessReview per new caller token. Beyond it writes wait, and a request that cannot finish within --answer-deadline is answered 503. 0: no client-side limit.",
  }),
  kubeApiBurst: describe(integer(1, 100_000).prefault('1000'), {
    flag: '--kube-api-burst',
    env: `${ENV}KUBE_API_BURST`,
    description:
      "Kubernetes API calls made at once before --kube-api-qps paces them, as client-go's Burst: the default takes a request of --max-batch alarms unpaced.",
  }),
  retryAfter: describe(duration(1000, 3_600_000).prefault('5s'), {
    flag: '--retry-after',
    env: `${ENV}RETRY_AFTER`,
    description:
      'Retry-After sent with 503 when the API server is unreachable or overloaded and gave no Retry-After of its own.',
  }),
  requestTimeout: describe(duration(1000, 600_000).prefault('30s'), {
    flag: '--request-timeout',
    env: `${ENV}REQUEST_TIMEOUT`,
    description:
      'How long a client may take to send one whole request, headers and body; a slower one is answered 408 and its connection closed, so a trickled body cannot hold a connection.',
  }),
  headersTimeout: describe(duration(1000, 600_000).prefault('10s'), {
    flag: '--headers-timeout',
    env: `${ENV}HEADERS_TIMEOUT`,
    description:
      "How long a client may take from opening a connection (or from its previous request) to the end of a request's headers; a slower one is answered 408 and its connection closed, so a silent connection cannot hold a slot. --request-timeout applies instead when it is shorter.",
  }),
  idleTimeout: describe(duration(1000, 600_000).prefault('60s'), {
    flag: '--idle-timeout',
    env: `${ENV}IDLE_TIMEOUT`,
    description:
      'How long a connection may stay silent, between requests or within one, before it is closed.',
  }),
  maxConnections: describe(integer(1, 100_000).prefault('512'), {
    flag: '--max-connections',
    env: `${ENV}MAX_CONNECTIONS`,
    description: 'Most client connections open at once; more are closed as soon as they are accepted.',
  }),
  maxConnectionsPerAddress: describe(integer(1, 100_000).prefault('64'), {
    flag: '--max-connections-per-address',
    env: `${ENV}MAX_CONNECTIONS_PER_ADDRESS`,
    description:
      "Most client connections open at once from one source address; more are closed as soon as they are accepted, so a few addresses cannot take every slot of --max-connections. Behind a proxy or a NAT every caller shares the proxy's address: raise it there.",
  }),
  tlsCertFile: describe(z.string().min(1).optional(), {
    flag: '--tls-cert-file',
    env: `${ENV}TLS_CERT_FILE`,
    description:
      'PEM certificate (chain) to serve HTTPS with, e.g. tls.crt of a mounted kubernetes.io/tls Secret; needs --tls-key-file. Both files are re-read when they change. Default: plain HTTP.',
  }),
  tlsKeyFile: describe(z.string().min(1).optional(), {
    flag: '--tls-key-file',
    env: `${ENV}TLS_KEY_FILE`,
    description: 'PEM private key of --tls-cert-file.',
  }),
  namespaceRate: describe(rate(100_000).prefault('100'), {
    flag: '--namespace-rate',
    env: `${ENV}NAMESPACE_RATE`,
    description:
      'AlarmEvents per second one namespace may have this receiver replica write, on average; once it and the burst are spent, a request is answered 429 with Retry-After after writing what fitted, so one flooding namespace cannot take the receiver or etcd from everyone. Alarms written lately cost nothing when sent again.',
  }),
  namespaceBurst: describe(integer(1, 1_000_000).prefault('10000'), {
    flag: '--namespace-burst',
    env: `${ENV}NAMESPACE_BURST`,
    description:
      'AlarmEvents one namespace may have written at once beyond --namespace-rate: a storm of this many new alerts is taken without delay.',
  }),
  logLevel: describe(
    setting(`must be one of ${LOG_LEVELS.join(', ')}`, (raw) =>
      LOG_LEVELS.find((level) => level === raw.toLowerCase()),
    ).prefault('info'),
    { flag: '--log-level', env: `${ENV}LOG_LEVEL`, description: 'Log level.' },
  ),
  shutdownDelay: describe(duration(0, 60_000).prefault('5s'), {
    flag: '--shutdown-delay',
    env: `${ENV}SHUTDOWN_DELAY`,
    description:
      'How long the receiver keeps serving after SIGTERM, unready, before it stops accepting connections: the time a Service takes to stop sending it new ones.',
  }),
  shutdownGracePeriod: describe(duration(0, 600_000).prefault('15s'), {
    flag: '--shutdown-grace-period',
    env: `${ENV}SHUTDOWN_GRACE_PERIOD`,
    description: 'How long requests in flight may take to finish on SIGTERM before connections are cut.',
  }),
});

/** The settings, and the rules between them. */
export const receiverConfigSchema = receiverSettings.superRefine((config, ctx) => {
  if ((config.tlsCertFile === undefined) !== (config.tlsKeyFile === undefined)) {
    ctx.addIssue({
      code: 'custom',
      path: [config.tlsCertFile === undefined ? 'tlsCertFile' : 'tlsKeyFile'],
      message: 'must be given together with the other of --tls-cert-file and --tls-key-file',
    });
  }
  if (config.maxNamespaceBytesInFlight > config.maxBytesInFlight) {
    ctx.addIssue({
      code: 'custom',
      path: ['maxNamespaceBytesInFlight'],
      message: `must be at most --max-bytes-in-flight (${config.maxBytesInFlight})`,
    });
  }
  for (const key of ['maxAlertPayloadBytes', 'maxBodyBytes'] as const) {
    if (config[key] > config.maxNamespaceBytesInFlight) {
      ctx.addIssue({
        code: 'custom',
        path: [key],
        message: `must be at most --max-namespace-bytes-in-flight (${config.maxNamespaceBytesInFlight}), or a body at the bound is never admitted`,
      });
    }
  }
  if (config.idleTimeout <= config.answerDeadline) {
    ctx.addIssue({
      code: 'custom',
      path: ['idleTimeout'],
      message: `must be longer than --answer-deadline (${config.answerDeadline / 1000}s), or a connection waiting for its answer is closed`,
    });
  }
});

export type ReceiverConfig = z.output<typeof receiverConfigSchema>;

/** Reads flags and environment; throws ConfigError with one line per bad value. */
export function loadReceiverConfig(
  input: ConfigInput = { argv: process.argv.slice(2), env: process.env },
): ReceiverConfig {
  return loadSettings(receiverConfigSchema, input, (raw) => {
    raw.namespace ??= serviceAccountNamespace() ?? 'default';
  });
}
