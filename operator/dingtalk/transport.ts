import { Pool } from 'undici';
import { DingTalkError, DingTalkErrorCode } from './errors.ts';

/**
 * HTTP to DingTalk: one keep-alive undici Pool per origin, with connect/headers/body timeouts. Network
 * failures become transient DingTalkErrors; interpreting the answer is left to the caller.
 */

export interface TransportOptions {
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  keepAliveTimeoutMs: number;
  connectionsPerOrigin: number;
}

export interface RawResponse {
  status: number;
  text: string;
}

export interface PostRequest {
  url: URL;
  /** Operation name for errors and metrics, e.g. `robot.send`. */
  endpoint: string;
  body: string;
  headers?: Record<string, string>;
}

export interface Transport {
  post(request: PostRequest): Promise<RawResponse>;
  close(): Promise<void>;
}

const timeoutCodes = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

export function createTransport(options: TransportOptions): Transport {
  const pools = new Map<string, Pool>();

  const poolFor = (origin: string) => {
    let pool = pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, {
        connections: options.connectionsPerOrigin,
        connect: { timeout: options.connectTimeoutMs },
        headersTimeout: options.headersTimeoutMs,
        bodyTimeout: options.bodyTimeoutMs,
        keepAliveTimeout: options.keepAliveTimeoutMs,
      });
      pools.set(origin, pool);
    }
    return pool;
  };

  return {
    async post({ url, endpoint, body, headers }) {
      try {
        const response = await poolFor(url.origin).request({
          method: 'POST',
          path: url.pathname + url.search,
          headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
          body,
        });
        return { status: response.statusCode, text: await response.body.text() };
      } catch (error) {
        throw networkError(error, endpoint);
      }
    },
    async close() {
      const closing = [...pools.values()].map((pool) => pool.close());
      pools.clear();
      await Promise.all(closing);
    },
  };
}

/** The message names the failure kind only: undici's own messages may quote the URL, token included. */
function networkError(error: unknown, endpoint: string): DingTalkError {
  const code = (error as { code?: unknown }).code;
  const timedOut = typeof code === 'string' && timeoutCodes.has(code);
  const detail = typeof code === 'string' ? ` (${code})` : '';
  return new DingTalkError(`${endpoint}: ${timedOut ? 'timed out' : 'connection failed'}${detail}`, {
    code: timedOut ? DingTalkErrorCode.timeout : DingTalkErrorCode.connection,
    errorClass: 'transient',
    endpoint,
  });
}
