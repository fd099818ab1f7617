import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { ConfigError } from './errors.ts';
import { DEFAULT_QUOTA_TIME_ZONE, isTimeZone } from './quota/month.ts';

/**
 * The operator's configuration: every setting is a flag and an environment variable (the flag wins),
 * given as text and validated here. `configSchema` is the single source: its fields carry their flag,
 * environment variable and description as metadata, so reference docs can be generated from it.
 */

const DURATION_PATTERN = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_NAME = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Parses `1h30m`, `15s`, `250ms` into milliseconds; undefined when it is not a duration. */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (!DURATION_PATTERN.test(trimmed)) return undefined;
  let total = 0;
  for (const [, amount, unit] of trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    total += Number(amount) * UNIT_MS[unit as string];
  }
  return Math.round(total);
}

function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** A text setting that turns into T, or fails with `message` (phrased to follow the setting's name). */
export function setting<T>(message: string, parse: (raw: string) => T | undefined) {
  return z.string().transform((raw, ctx) => {
    const value = parse(raw.trim());
    if (value === undefined) {
      ctx.addIssue({ code: 'custom', message });
      return z.NEVER;
    }
    return value;
  });
}

export function integer(min: number, max: number) {
  return setting(`must be an integer between ${min} and ${max}`, (raw) => {
    if (!/^-?\d+$/.test(raw)) return undefined;
    const value = Number(raw);
    return value >= min && value <= max ? value : undefined;
  });
}

export function duration(minMs: number, maxMs: number) {
  return setting(
    `must be a duration such as 15s, 30m or 24h, between ${formatDuration(minMs)} and ${formatDuration(maxMs)}`,
    (raw) => {
      const ms = parseDuration(raw);
      return ms !== undefined && ms >= minMs && ms <= maxMs ? ms : undefined;
    },
  );
}

/** Calls a second of client-side rate limit; 0 turns it off, leaving API Priority and Fairness alone. */
export function queriesPerSecond() {
  return setting('must be a number between 0 and 10000 (0: no client-side limit)', (raw) => {
    if (!/^\d+(\.\d+)?$/.test(raw)) return undefined;
    const value = Number(raw);
    return value <= 10_000 ? value : undefined;
  });
}

export function boolean() {
  return setting('must be true or false', (raw) => {
    const lower = raw.toLowerCase();
    if (['true', '1', 'yes'].includes(lower)) return true;
    if (['false', '0', 'no'].includes(lower)) return false;
    return undefined;
  });
}

function baseUrl() {
  return setting(
    'must be an http(s) URL without query or fragment, e.g. https://oapi.dingtalk.com',
    (raw) => {
      if (!URL.canParse(raw)) return undefined;
      const url = new URL(raw);
      if (!['http:', 'https:'].includes(url.protocol) || url.search || url.hash) return undefined;
      return url.toString().replace(/\/$/, '');
    },
  );
}

function list(item: RegExp, message: string) {
  return setting(message, (raw) => {
    const items = raw
      .split(',')
      .map((part) => part.trim().toLowerCase())
      .filter(Boolean);
    return items.every((part) => item.test(part)) ? items : undefined;
  });
}

export interface Source {
  flag: string;
  env?: string;
  description: string;
}

export function describe<S extends z.ZodType>(schema: S, source: Source): S {
  return schema.meta(source as unknown as Record<string, unknown>);
}

export const configSchema = z
  .object({
    kubeconfig: describe(z.string().min(1).optional(), {
      flag: '--kubeconfig',
      description:
        'Path to a kubeconfig. Default: $KUBECONFIG, else in-cluster credentials when KUBERNETES_SERVICE_HOST is set, else ~/.kube/config. HTTPS_PROXY and NO_PROXY apply unless the kubeconfig names a proxy-url.',
    }),
    namespaces: describe(list(DNS_LABEL, 'must be a comma-separated list of namespace names').prefault(''), {
      flag: '--namespaces',
      env: 'DINGTALK_OPERATOR_NAMESPACES',
      description: 'Namespaces to watch, comma-separated. Default: all namespaces.',
    }),
    secretAccessRole: describe(
      z
        .string()
        .trim()
        .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be an RBAC object name')
        .optional(),
      {
        flag: '--secret-access-role',
        env: 'DINGTALK_OPERATOR_SECRET_ACCESS_ROLE',
        description:
          "Unset (the default): the operator may read Secrets and ConfigMaps in every namespace it watches, and watches their metadata with one watch. Set (the chart's secretAccess: namespaces): the name of the ClusterRole, and of the RoleBinding to it, that grants the operator Secrets and ConfigMaps in one namespace; it reads them only where such a RoleBinding exists, watches each namespace it could read, and a service elsewhere is SecretAccessDenied naming the RoleBinding to create.",
      },
    ),
    serviceAccount: describe(
      z
        .string()
        .trim()
        .regex(/^[a-z0-9-]+:[a-z0-9.-]+$/, 'must be namespace:name')
        .optional(),
      {
        flag: '--service-account',
        env: 'DINGTALK_OPERATOR_SERVICE_ACCOUNT',
        description:
          "The operator's own ServiceAccount as namespace:name, named in SecretAccessDenied's command.",
      },
    ),
    workers: describe(integer(1, 64).prefault('4'), {
      flag: '--workers',
      env: 'DINGTALK_OPERATOR_WORKERS',
      description: 'Concurrent reconciles per controller.',
    }),
    leaderElect: describe(boolean().prefault('true'), {
      flag: '--leader-elect',
      env: 'DINGTALK_OPERATOR_LEADER_ELECT',
      description: 'Elect a leader through a Lease so only one replica runs controllers and dispatch.',
    }),
    leaseName: describe(
      setting('must be a DNS subdomain name', (raw) => (DNS_NAME.test(raw) ? raw : undefined)).prefault(
        'dingtalk-operator-leader',
      ),
      {
        flag: '--leader-election-lease',
        env: 'DINGTALK_OPERATOR_LEASE_NAME',
        description: 'Name of the leader election Lease.',
      },
    ),
    leaseNamespace: describe(
      setting('must be a namespace name', (raw) => (DNS_LABEL.test(raw) ? raw : undefined)),
      {
        flag: '--leader-election-namespace',
        env: 'POD_NAMESPACE',
        description: "Namespace of the Lease. Default: the pod's own namespace, else `default`.",
      },
    ),
    identity: describe(z.string().trim().min(1, 'must not be empty'), {
      flag: '--leader-election-identity',
      env: 'POD_NAME',
      description: 'This replica in the Lease and in events. Default: the host name.',
    }),
    leaseDuration: describe(duration(1000, 600_000).prefault('15s'), {
      flag: '--lease-duration',
      env: 'DINGTALK_OPERATOR_LEASE_DURATION',
      description: 'How long followers wait, after the Lease last changed, before taking over.',
    }),
    renewDeadline: describe(duration(500, 600_000).prefault('10s'), {
      flag: '--renew-deadline',
      env: 'DINGTALK_OPERATOR_RENEW_DEADLINE',
      description: 'How long the leader keeps retrying a renewal before it gives up leading (and exits).',
    }),
    retryPeriod: describe(duration(100, 60_000).prefault('2s'), {
      flag: '--retry-period',
      env: 'DINGTALK_OPERATOR_RETRY_PERIOD',
      description: 'Interval between Lease acquire and renew attempts.',
    }),
    kubeApiQps: describe(queriesPerSecond().prefault('200'), {
      flag: '--kube-api-qps',
      env: 'DINGTALK_OPERATOR_KUBE_API_QPS',
      description:
        "Kubernetes API calls per second (watches aside) once --kube-api-burst is spent, as client-go's QPS; a storm or a relist cannot flood the API server beyond it. Dispatch makes about three calls per alarm (its message id before sending, the outcome, the deletion after --event-ttl). 0: no client-side limit.",
    }),
    kubeApiBurst: describe(integer(1, 100_000).prefault('400'), {
      flag: '--kube-api-burst',
      env: 'DINGTALK_OPERATOR_KUBE_API_BURST',
      description:
        "Kubernetes API calls made at once before --kube-api-qps paces them, as client-go's Burst.",
    }),
    kubeRequestTimeout: describe(duration(100, 600_000).prefault('30s'), {
      flag: '--kube-request-timeout',
      env: 'DINGTALK_OPERATOR_KUBE_REQUEST_TIMEOUT',
      description:
        'Deadline of one Kubernetes API call (watches aside), waits for the rate limit and retries of 429 included; then it fails and is retried with backoff.',
    }),
    healthAddress: describe(
      setting('must be an IP address or host name', (raw) =>
        raw && !/\s/.test(raw) ? raw : undefined,
      ).prefault('0.0.0.0'),
      {
        flag: '--health-address',
        env: 'DINGTALK_OPERATOR_HEALTH_ADDRESS',
        description: 'Bind address of the /healthz, /readyz and /metrics server.',
      },
    ),
    healthPort: describe(integer(0, 65535).prefault('8081'), {
      flag: '--health-port',
      env: 'DINGTALK_OPERATOR_HEALTH_PORT',
      description: 'Port of the /healthz, /readyz and /metrics server (0 picks a free port).',
    }),
    logLevel: describe(
      setting(`must be one of ${LOG_LEVELS.join(', ')}`, (raw) =>
        LOG_LEVELS.find((level) => level === raw.toLowerCase()),
      ).prefault('info'),
      { flag: '--log-level', env: 'DINGTALK_OPERATOR_LOG_LEVEL', description: 'Log level.' },
    ),
    revalidateInterval: describe(duration(10_000, 7 * 24 * 3_600_000).prefault('30m'), {
      flag: '--revalidate-interval',
      env: 'DINGTALK_OPERATOR_REVALIDATE_INTERVAL',
      description: 'How often every DingTalkService is validated again when nothing changed.',
    }),
    dingtalkRobotUrl: describe(baseUrl().prefault('https://oapi.dingtalk.com'), {
      flag: '--dingtalk-robot-url',
      env: 'DINGTALK_OPERATOR_ROBOT_URL',
      description: 'Base URL of the group robot API (robot/send) and the legacy topapi.',
    }),
    dingtalkApiUrl: describe(baseUrl().prefault('https://api.dingtalk.com'), {
      flag: '--dingtalk-api-url',
      env: 'DINGTALK_OPERATOR_API_URL',
      description: 'Base URL of the new DingTalk API (access tokens, robot batchSend).',
    }),
    allowedWebhookHosts: describe(
      list(DNS_NAME, 'must be a comma-separated list of host names').prefault('oapi.dingtalk.com'),
      {
        flag: '--allowed-webhook-hosts',
        env: 'DINGTALK_OPERATOR_ALLOWED_WEBHOOK_HOSTS',
        description: 'Hosts a group webhook URL may point at; anything else is refused.',
      },
    ),
    shutdownGracePeriod: describe(duration(0, 600_000).prefault('25s'), {
      flag: '--shutdown-grace-period',
      env: 'DINGTALK_OPERATOR_SHUTDOWN_GRACE_PERIOD',
      description: 'How long running work may take to finish on SIGTERM before it is aborted.',
    }),
    robotRateLimit: describe(integer(1, 20).prefault('20'), {
      flag: '--robot-rate-limit',
      env: 'DINGTALK_OPERATOR_ROBOT_RATE_LIMIT',
      description: 'Messages per minute per group robot; DingTalk blocks a robot for 10 minutes above 20.',
    }),
    maxHoldAge: describe(duration(10_000, 30 * 24 * 3_600_000).prefault('24h'), {
      flag: '--max-hold-age',
      env: 'DINGTALK_OPERATOR_MAX_HOLD_AGE',
      description:
        'How long an alarm DingTalk refused for a configuration reason (wrong secret, keyword, IP allow-list, robotCode) is held for a fix before it is recorded Failed. Alarms refused for a spent monthly quota are held at least 31 days, so they see the month turn.',
    }),
    quotaTimeZone: describe(
      setting('must be an IANA time zone such as Asia/Shanghai', (raw) =>
        isTimeZone(raw) ? raw : undefined,
      ).prefault(DEFAULT_QUOTA_TIME_ZONE),
      {
        flag: '--quota-time-zone',
        env: 'DINGTALK_OPERATOR_QUOTA_TIME_ZONE',
        description:
          "The time zone whose midnight on the first begins DingTalk's month for the monthly quotas; DingTalk counts in China Standard Time.",
      },
    ),
    quotaWriteInterval: describe(duration(100, 60_000).prefault('5s'), {
      flag: '--quota-write-interval',
      env: 'DINGTALK_OPERATOR_QUOTA_WRITE_INTERVAL',
      description:
        "How often the month's counted DingTalk calls are written to DingTalkService status (one write per changed service). A crash loses at most this long's counts.",
    }),
    eventTtl: describe(duration(60_000, 365 * 24 * 3_600_000).prefault('24h'), {
      flag: '--event-ttl',
      env: 'DINGTALK_OPERATOR_EVENT_TTL',
      description:
        'How long a resolved AlarmEvent is kept once it is finished and its resolved notification recorded, before it is deleted. A firing AlarmEvent is never deleted by this TTL, however long it fires: it keeps its identity and its repeats until its source resolves it (or someone deletes it).',
    }),
  })
  .superRefine((config, ctx) => {
    if (config.renewDeadline >= config.leaseDuration) {
      ctx.addIssue({
        code: 'custom',
        path: ['renewDeadline'],
        message: 'must be shorter than --lease-duration',
      });
    }
    if (config.retryPeriod * 1.2 >= config.renewDeadline) {
      ctx.addIssue({
        code: 'custom',
        path: ['retryPeriod'],
        message: 'must be shorter than --renew-deadline divided by 1.2',
      });
    }
  });

export type OperatorConfig = z.output<typeof configSchema>;
export interface ConfigInput {
  argv: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
}

/** Reads flags and environment; throws ConfigError with one line per bad value. */
export function loadConfig(
  input: ConfigInput = { argv: process.argv.slice(2), env: process.env },
): OperatorConfig {
  return loadSettings(configSchema, input, (raw) => {
    raw.identity ??= hostname();
    raw.leaseNamespace ??= serviceAccountNamespace() ?? 'default';
  });
}

const SERVICE_ACCOUNT_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

export function serviceAccountNamespace(): string | undefined {
  try {
    return readFileSync(SERVICE_ACCOUNT_NAMESPACE, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads flags and environment into any schema built like configSchema (fields carrying their Source as
 * metadata); `fill` supplies computed defaults for settings left unset. Throws ConfigError with one line
 * per bad value, naming the flag or variable it came from.
 */
export function loadSettings<S extends z.ZodObject>(
  schema: S,
  { argv, env }: ConfigInput,
  fill: (raw: Record<string, string | undefined>) => void = () => {},
): z.output<S> {
  const keys = Object.keys(schema.shape);
  const sourceOfKey = (key: string) => (schema.shape[key] as z.ZodType).meta() as unknown as Source;
  let flags: Record<string, string | boolean | undefined>;
  try {
    flags = parseArgs({
      args: [...argv],
      options: Object.fromEntries(
        keys.map((key) => [sourceOfKey(key).flag.slice(2), { type: 'string' as const }]),
      ),
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    throw new ConfigError([err instanceof Error ? err.message : String(err)]);
  }

  const raw: Record<string, string | undefined> = {};
  const origin: Record<string, string> = {};
  for (const key of keys) {
    const { flag, env: envName } = sourceOfKey(key);
    const fromFlag = flags[flag.slice(2)];
    if (typeof fromFlag === 'string') {
      raw[key] = fromFlag;
      origin[key] = flag;
    } else if (envName && env[envName] !== undefined && env[envName] !== '') {
      raw[key] = env[envName];
      origin[key] = envName;
    }
  }
  fill(raw);

  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((issue) => {
      const key = issue.path[0] as string | undefined;
      if (!key) return issue.message;
      const name = origin[key] ?? sourceOfKey(key).flag;
      const given = raw[key];
      return given === undefined
        ? `${name} ${issue.message}`
        : `${name} ${issue.message} (got ${JSON.stringify(given)})`;
    }),
  );
}
