import { z } from 'zod';
import {
  type ConfigInput,
  DNS_LABEL,
  describe,
  duration,
  integer,
  loadSettings,
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

export const receiverConfigSchema = z.object({
  kubeconfig: describe(z.string().min(1).optional(), {
    flag: '--kubeconfig',
    description:
      'Path to a kubeconfig. Default: in-cluster credentials when KUBERNETES_SERVICE_HOST is set, otherwise $KUBECONFIG or ~/.kube/config.',
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
      'File holding a bearer token (e.g. mounted from a Secret) that callers outside the cluster may present instead of a ServiceAccount token. It may write to every namespace the receiver can. Re-read when it changes. Default: none, only ServiceAccount tokens are accepted.',
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
  maxAlertPayloadBytes: describe(integer(1024, 256 << 20).prefault(String(16 << 20)), {
    flag: '--max-alert-payload-bytes',
    env: `${ENV}MAX_ALERT_PAYLOAD_BYTES`,
    description:
      'Largest Alertmanager or Grafana payload accepted, in bytes (any number of alerts within it); larger ones are answered 503 so the sender keeps them and retries.',
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
  authCacheTtl: describe(duration(0, 600_000).prefault('30s'), {
    flag: '--auth-cache-ttl',
    env: `${ENV}AUTH_CACHE_TTL`,
    description:
      'How long a TokenReview or SubjectAccessReview answer is reused (denials at most 5s, errors never); 0s disables the cache.',
  }),
  authCacheSize: describe(integer(1, 1_000_000).prefault('10000'), {
    flag: '--auth-cache-size',
    env: `${ENV}AUTH_CACHE_SIZE`,
    description: 'Most answers kept in each of the two review caches; the least recently used go first.',
  }),
  kubeRequestTimeout: describe(duration(100, 120_000).prefault('10s'), {
    flag: '--kube-request-timeout',
    env: `${ENV}KUBE_REQUEST_TIMEOUT`,
    description: 'How long one Kubernetes API call may take before the request is answered 503.',
  }),
  retryAfter: describe(duration(1000, 3_600_000).prefault('5s'), {
    flag: '--retry-after',
    env: `${ENV}RETRY_AFTER`,
    description:
      'Retry-After sent with 503 when the API server is unreachable or overloaded and gave no Retry-After of its own.',
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

export type ReceiverConfig = z.output<typeof receiverConfigSchema>;

/** Reads flags and environment; throws ConfigError with one line per bad value. */
export function loadReceiverConfig(
  input: ConfigInput = { argv: process.argv.slice(2), env: process.env },
): ReceiverConfig {
  return loadSettings(receiverConfigSchema, input, (raw) => {
    raw.namespace ??= serviceAccountNamespace() ?? 'default';
  });
}
