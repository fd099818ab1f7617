import type { ConnectionOptions } from 'node:tls';
import { Agent, request } from 'undici';
import { KubeApiError } from '../errors.ts';
import type { HttpsOptions, KubeEndpoint } from '../runtime/kube-endpoint.ts';
import { KubeUnavailableError } from './errors.ts';

/**
 * JSON calls to the API server on one connection pool. client-node builds a new undici Agent for every
 * call (a TLS handshake each time), which the receiver cannot afford on its hot path; this keeps the
 * kubeconfig's TLS settings in one Agent and re-reads only the credentials header, briefly cached so a
 * rotated in-cluster token is picked up. The endpoint is runtime/kube-endpoint.ts's (which spares the
 * receiver loading client-node) or a client-node KubeConfig.
 *
 * Outcomes: 2xx → parsed body; no answer, timeout, 5xx or 429 → KubeUnavailableError; any other status →
 * KubeApiError with the Status body parsed.
 */

const HEADERS_TTL_MS = 30_000;

export interface KubeHttpOptions {
  timeoutMs: number;
  /** Concurrent connections to the API server. */
  connections?: number;
}

export class KubeHttp {
  readonly #endpoint: KubeEndpoint;
  readonly #server: string;
  readonly #timeoutMs: number;
  readonly #agent: Promise<Agent>;
  #headers: { value: Record<string, string>; expires: number } | undefined;

  constructor(endpoint: KubeEndpoint, { timeoutMs, connections = 32 }: KubeHttpOptions) {
    const cluster = endpoint.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    this.#endpoint = endpoint;
    this.#server = cluster.server.replace(/\/$/, '');
    this.#timeoutMs = timeoutMs;
    this.#agent = this.#createAgent(connections);
    // Surfaced on the first call instead; an unhandled rejection here would end the process.
    this.#agent.catch(() => undefined);
  }

  async post<T>(path: string, body: unknown): Promise<T> {
    return this.#call<T>('POST', path, JSON.stringify(body), 'application/json');
  }

  async mergePatch<T>(path: string, patch: unknown): Promise<T> {
    return this.#call<T>('PATCH', path, JSON.stringify(patch), 'application/merge-patch+json');
  }

  async close(): Promise<void> {
    await (await this.#agent).close();
  }

  async #call<T>(method: 'POST' | 'PATCH', path: string, body: string, contentType: string): Promise<T> {
    const dispatcher = await this.#agent;
    const headers = {
      ...(await this.#credentials()),
      'content-type': contentType,
      accept: 'application/json',
    };
    let response: Awaited<ReturnType<typeof request>>;
    try {
      response = await request(this.#server + path, {
        method,
        body,
        headers,
        dispatcher,
        headersTimeout: this.#timeoutMs,
        bodyTimeout: this.#timeoutMs,
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (err) {
      throw new KubeUnavailableError(`Kubernetes API unreachable: ${describeNetworkError(err)}`, undefined, {
        cause: err,
      });
    }
    let text: string;
    try {
      text = await response.body.text();
    } catch (err) {
      throw new KubeUnavailableError(
        `Kubernetes API answer cut off: ${describeNetworkError(err)}`,
        undefined,
        {
          cause: err,
        },
      );
    }
    const status = response.statusCode;
    if (status >= 200 && status < 300) return JSON.parse(text) as T;
    if (status === 401) this.#headers = undefined;
    if (status === 429 || status >= 500) {
      throw new KubeUnavailableError(
        `Kubernetes API answered ${status}`,
        retryAfterSeconds(response.headers['retry-after']),
        { cause: KubeApiError.fromResponse(status, text) },
      );
    }
    throw KubeApiError.fromResponse(status, text);
  }

  async #credentials(): Promise<Record<string, string>> {
    const now = Date.now();
    if (this.#headers && this.#headers.expires > now) return this.#headers.value;
    const options: HttpsOptions = {};
    await this.#endpoint.applyToHTTPSOptions(options);
    const value: Record<string, string> = {};
    for (const [name, header] of Object.entries(options.headers ?? {})) {
      value[name.toLowerCase()] = Array.isArray(header) ? header.join(', ') : String(header);
    }
    this.#headers = { value, expires: now + HEADERS_TTL_MS };
    return value;
  }

  async #createAgent(connections: number): Promise<Agent> {
    const options: HttpsOptions = {};
    await this.#endpoint.applyToHTTPSOptions(options);
    const tls: ConnectionOptions = {
      ca: options.ca,
      cert: options.cert,
      key: options.key,
      servername: options.servername,
    };
    if (options.rejectUnauthorized !== undefined) tls.rejectUnauthorized = options.rejectUnauthorized;
    return new Agent({ connections, keepAliveTimeout: 30_000, connect: tls });
  }
}

function retryAfterSeconds(header: string | string[] | undefined): number | undefined {
  const value = Number(Array.isArray(header) ? header[0] : header);
  return Number.isFinite(value) && value > 0 ? Math.ceil(value) : undefined;
}

function describeNetworkError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code ?? (err.cause as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? `${code} ${err.message}` : err.message;
}
