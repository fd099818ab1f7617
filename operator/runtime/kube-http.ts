import type { ConnectionOptions } from 'node:tls';
import { Agent, type Dispatcher, request } from 'undici';
import { KubeApiError, KubeUnavailableError } from '../errors.ts';
import type { HttpsOptions, KubeEndpoint } from './kube-endpoint.ts';

/**
 * The API server client of both processes: JSON calls and streamed GETs (list pages, watches) on one
 * connection pool. client-node builds a new undici Agent for every call (a TLS handshake each time) and
 * costs a process about 34 MiB to load (bench/results/README.md); this keeps the kubeconfig's TLS
 * settings in one Agent and re-reads only the credentials header, briefly cached so a rotated in-cluster
 * token is picked up. The endpoint is runtime/kube-endpoint.ts's (a client-node KubeConfig only for
 * kubeconfigs that need an exec plugin or an auth provider).
 *
 * Outcomes: 2xx → parsed body; no answer, timeout, 5xx or 429 → KubeUnavailableError (the Status as its
 * cause); any other status → KubeApiError with the Status body parsed. A call aborted by its caller's
 * signal rejects with the abort.
 */

const HEADERS_TTL_MS = 30_000;

/**
 * Sent with every call. The API server names the field manager of a write without one (status merge
 * patches, creates) after it.
 */
const USER_AGENT = 'dingtalk-operator';

export type KubeQuery = Record<string, string | number | boolean | undefined>;

export interface KubeHttpOptions {
  /**
   * Deadline of a JSON call. Without it, undici's defaults apply (5 minutes for the headers and between
   * body chunks), as they did through client-node. Streamed GETs have only those: a watch stays open.
   */
  timeoutMs?: number;
  /** Concurrent connections to the API server; null for no limit (watches hold one each). */
  connections?: number | null;
}

/** What a caller sets for one call; `query` values left undefined are not sent. */
export interface KubeCallOptions {
  query?: KubeQuery;
  signal?: AbortSignal;
}

/** The body of a streamed GET, read as it arrives (`for await`) or whole (`json()`). */
export type KubeStream = Dispatcher.ResponseData['body'];

interface Call extends KubeCallOptions {
  method: Dispatcher.HttpMethod;
  path: string;
  body?: string;
  contentType?: string;
  accept?: string;
  timeoutMs?: number;
}

export class KubeHttp {
  readonly #endpoint: KubeEndpoint;
  readonly #server: string;
  readonly #timeoutMs: number | undefined;
  readonly #agent: Promise<Agent>;
  #headers: { value: Record<string, string>; expires: number } | undefined;

  constructor(endpoint: KubeEndpoint, { timeoutMs, connections = 32 }: KubeHttpOptions = {}) {
    const cluster = endpoint.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    this.#endpoint = endpoint;
    this.#server = cluster.server.replace(/\/$/, '');
    this.#timeoutMs = timeoutMs;
    this.#agent = this.#createAgent(connections);
    // Surfaced on the first call instead; an unhandled rejection here would end the process.
    this.#agent.catch(() => undefined);
  }

  async get<T>(path: string, options: KubeCallOptions = {}): Promise<T> {
    return this.#json<T>({ ...options, method: 'GET', path });
  }

  async post<T>(path: string, body: unknown, options: KubeCallOptions = {}): Promise<T> {
    return this.#json<T>({ ...options, method: 'POST', path, ...jsonBody(body, 'application/json') });
  }

  /** Replaces the object; a stale metadata.resourceVersion in `body` is answered 409. */
  async put<T>(path: string, body: unknown, options: KubeCallOptions = {}): Promise<T> {
    return this.#json<T>({ ...options, method: 'PUT', path, ...jsonBody(body, 'application/json') });
  }

  /** `body`: DeleteOptions, such as preconditions the object must still meet (else 409 Conflict). */
  async delete<T>(path: string, { body, ...options }: KubeCallOptions & { body?: unknown } = {}): Promise<T> {
    return this.#json<T>({
      ...options,
      method: 'DELETE',
      path,
      ...(body !== undefined && jsonBody(body, 'application/json')),
    });
  }

  /** An RFC 7386 merge patch. */
  async mergePatch<T>(path: string, patch: unknown, options: KubeCallOptions = {}): Promise<T> {
    return this.#json<T>({
      ...options,
      method: 'PATCH',
      path,
      ...jsonBody(patch, 'application/merge-patch+json'),
    });
  }

  /**
   * Server-side apply of `body` (a JSON document, which is YAML too) under `fieldManager`; `force` takes
   * over fields another manager owns instead of answering 409.
   */
  async apply<T>(
    path: string,
    body: unknown,
    { fieldManager, force, ...options }: KubeCallOptions & { fieldManager: string; force?: boolean },
  ): Promise<T> {
    return this.#json<T>({
      ...options,
      query: { ...options.query, fieldManager, force },
      method: 'PATCH',
      path,
      ...jsonBody(body, 'application/apply-patch+yaml'),
    });
  }

  /**
   * A GET whose body the caller reads as it arrives: a list page or a watch (`accept` may ask for
   * metadata only). It must be read to its end or `signal` aborted, which closes the connection.
   */
  async stream(
    path: string,
    { query, signal, accept = 'application/json' }: KubeCallOptions & { accept?: string },
  ): Promise<KubeStream> {
    const response = await this.#send({ method: 'GET', path, query, signal, accept });
    if (response.statusCode >= 200 && response.statusCode < 300) return response.body;
    const text = await response.body.text().catch(() => '');
    throw this.#failure(response, text);
  }

  async close(): Promise<void> {
    await (await this.#agent).close();
  }

  async #json<T>(call: Call): Promise<T> {
    const response = await this.#send({ ...call, timeoutMs: this.#timeoutMs });
    let text: string;
    try {
      text = await response.body.text();
    } catch (err) {
      if (call.signal?.aborted) throw err;
      throw new KubeUnavailableError(
        `Kubernetes API answer cut off: ${describeNetworkError(err)}`,
        undefined,
        {
          cause: err,
        },
      );
    }
    if (response.statusCode >= 200 && response.statusCode < 300) return JSON.parse(text) as T;
    throw this.#failure(response, text);
  }

  async #send({
    method,
    path,
    query,
    signal,
    body,
    contentType,
    accept = 'application/json',
    timeoutMs,
  }: Call): Promise<Dispatcher.ResponseData> {
    const dispatcher = await this.#agent;
    const headers: Record<string, string> = {
      ...(await this.#credentials()),
      accept,
      'user-agent': USER_AGENT,
    };
    if (contentType) headers['content-type'] = contentType;
    const signals = [signal, timeoutMs === undefined ? undefined : AbortSignal.timeout(timeoutMs)].filter(
      (s) => s !== undefined,
    );
    try {
      return await request(this.#server + path + queryString(query), {
        method,
        body,
        headers,
        dispatcher,
        ...(timeoutMs !== undefined && { headersTimeout: timeoutMs, bodyTimeout: timeoutMs }),
        ...(signals.length > 0 && { signal: AbortSignal.any(signals) }),
      });
    } catch (err) {
      if (signal?.aborted) throw err;
      throw new KubeUnavailableError(`Kubernetes API unreachable: ${describeNetworkError(err)}`, undefined, {
        cause: err,
      });
    }
  }

  #failure(response: Dispatcher.ResponseData, text: string): Error {
    const status = response.statusCode;
    if (status === 401) this.#headers = undefined;
    if (status === 429 || status >= 500) {
      return new KubeUnavailableError(
        `Kubernetes API answered ${status}`,
        retryAfterSeconds(response.headers['retry-after']),
        { cause: KubeApiError.fromResponse(status, text) },
      );
    }
    return KubeApiError.fromResponse(status, text);
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

  async #createAgent(connections: number | null): Promise<Agent> {
    const options: HttpsOptions = {};
    await this.#endpoint.applyToHTTPSOptions(options);
    const tls: ConnectionOptions = {
      ca: options.ca,
      cert: options.cert,
      key: options.key,
      servername: options.servername,
    };
    if (options.rejectUnauthorized !== undefined) tls.rejectUnauthorized = options.rejectUnauthorized;
    // TCP keep-alive probes after 30 s idle, as client-go does, so a load balancer keeps an idle watch.
    return new Agent({
      connections,
      keepAliveTimeout: 30_000,
      connect: { ...tls, keepAlive: true, keepAliveInitialDelay: 30_000 },
    });
  }
}

function jsonBody(value: unknown, contentType: string): { body: string; contentType: string } {
  return { body: JSON.stringify(value), contentType };
}

function queryString(query: KubeQuery | undefined): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== undefined) params.set(name, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
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
