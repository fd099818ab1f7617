import { type Env, proxiedAgent } from '../forward-proxy.ts';
import { DingTalkError, DingTalkErrorCode } from './errors.ts';

/**
 * HTTP to DingTalk: keep-alive connections pooled per origin, with connect/headers/body timeouts, an
 * overall deadline per request and a cap on the answer's size, so a slow or endless answer cannot hold
 * one of the pool's connections (which every namespace's sends share) for longer than the deadline.
 * Through the forward proxy HTTPS_PROXY or HTTP_PROXY names, unless NO_PROXY lists the host
 * (forward-proxy.ts). Network failures become transient DingTalkErrors; interpreting the answer is left
 * to the caller.
 */

export interface TransportOptions {
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  /** Between two chunks of the body: a trickle of bytes stays under it, hence requestTimeoutMs. */
  bodyTimeoutMs: number;
  /** From sending the request to the last byte of the answer. */
  requestTimeoutMs: number;
  /** DingTalk answers with a few hundred bytes of JSON; anything much larger is not DingTalk. */
  maxResponseBytes: number;
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

/** Any method: card updates are PUT, read receipts GET (without a body). */
export interface ApiRequest extends Omit<PostRequest, 'body'> {
  method: 'GET' | 'POST' | 'PUT';
  body?: string;
}

export interface Transport {
  post(request: PostRequest): Promise<RawResponse>;
  request(request: ApiRequest): Promise<RawResponse>;
  close(): Promise<void>;
}

const timeoutCodes = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** `env`: where the forward proxy settings are read. */
export function createTransport(options: TransportOptions, env: Env = process.env): Transport {
  const dispatcher = proxiedAgent({
    connections: options.connectionsPerOrigin,
    connect: { timeout: options.connectTimeoutMs },
    headersTimeout: options.headersTimeoutMs,
    bodyTimeout: options.bodyTimeoutMs,
    keepAliveTimeout: options.keepAliveTimeoutMs,
    env,
  });

  const request = async ({ method, url, endpoint, body, headers }: ApiRequest): Promise<RawResponse> => {
    const deadline = AbortSignal.timeout(options.requestTimeoutMs);
    try {
      const response = await dispatcher.request({
        origin: url.origin,
        method,
        path: url.pathname + url.search,
        headers: {
          ...(body !== undefined && { 'content-type': 'application/json; charset=utf-8' }),
          ...headers,
        },
        body,
        signal: deadline,
      });
      return {
        status: response.statusCode,
        text: await readCapped(response.body, options.maxResponseBytes, endpoint),
      };
    } catch (error) {
      if (error instanceof DingTalkError) throw error;
      if (deadline.aborted) {
        throw new DingTalkError(`${endpoint}: no complete answer within ${options.requestTimeoutMs} ms`, {
          code: DingTalkErrorCode.timeout,
          errorClass: 'transient',
          endpoint,
        });
      }
      throw networkError(error, endpoint);
    }
  };

  return {
    request,
    post: (post) => request({ ...post, method: 'POST' }),
    async close() {
      await dispatcher.close();
    },
  };
}

async function readCapped(
  body: AsyncIterable<Buffer> & { destroy(error?: Error): unknown },
  maxBytes: number,
  endpoint: string,
): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > maxBytes) {
      body.destroy();
      throw new DingTalkError(`${endpoint}: answer larger than ${maxBytes} bytes`, {
        code: DingTalkErrorCode.responseTooLarge,
        errorClass: 'transient',
        endpoint,
      });
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
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
