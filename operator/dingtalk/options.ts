import { z } from 'zod';
import type { ErrorClass } from './errors.ts';
import type { TokenCacheResult } from './token-cache.ts';

/** Client settings. Every base URL is configurable: tests point them at the emulator, users at a proxy. */
export const clientOptionsSchema = z.object({
  oapiBaseUrl: z.url().default('https://oapi.dingtalk.com'),
  apiBaseUrl: z.url().default('https://api.dingtalk.com'),
  /** Hosts a full webhook URL may name (`host` or `host:port`); the oapi base URL's host is always allowed. */
  allowedWebhookHosts: z.array(z.string().min(1)).default(['oapi.dingtalk.com']),
  connectTimeoutMs: z.number().int().positive().default(5_000),
  headersTimeoutMs: z.number().int().positive().default(10_000),
  bodyTimeoutMs: z.number().int().positive().default(10_000),
  requestTimeoutMs: z.number().int().positive().default(30_000),
  maxResponseBytes: z
    .number()
    .int()
    .positive()
    .default(1 << 20),
  keepAliveTimeoutMs: z.number().int().positive().default(30_000),
  connectionsPerOrigin: z.number().int().positive().default(16),
  /** DingTalk's calling guide suggests refreshing about ten minutes before the 7200 s expiry. */
  tokenRefreshMarginMs: z.number().int().nonnegative().default(600_000),
});

export type RequestResult = 'ok' | ErrorClass;

/** Plain callbacks so the runtime can feed metrics without the client knowing about Prometheus. */
export interface ClientHooks {
  /** After every HTTP exchange with DingTalk, including retries. */
  onRequest?: (event: { endpoint: string; resultClass: RequestResult; durationMs: number }) => void;
  onTokenCache?: (event: { result: TokenCacheResult }) => void;
  /** The clock for signatures and token expiry. */
  now?: () => number;
}

export type DingTalkClientOptions = z.input<typeof clientOptionsSchema> &
  ClientHooks & {
    /** Where HTTPS_PROXY, HTTP_PROXY and NO_PROXY are read; process.env by default. */
    env?: Readonly<Record<string, string | undefined>>;
  };
