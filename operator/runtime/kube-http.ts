import type { ConnectionOptions } from 'node:tls';
import { type Dispatcher, request } from 'undici';
import { KubeApiError, KubeUnavailableError } from '../errors.ts';
import { type Env, proxiedAgent } from '../forward-proxy.ts';
import type { HttpsOptions, KubeEndpoint } from './kube-endpoint.ts';
import { TokenBucket } from './rate-limiter.ts';
import { type Clock, sleep, systemClock } from './timers.ts';

/**
 * The API server client of both processes, and the entry to the project's own Kubernetes client, which
 * takes the place of client-node's (that costs a process about 34 MiB to load and builds a new undici
 * Agent, so a TLS handshake, for every call: bench/results/README.md). What it does, by module:
 * - kube-endpoint.ts: finds the kubeconfig as controller-runtime does (--kubeconfig, $KUBECONFIG, the
 *   pod's ServiceAccount, ~/.kube/config) and reads its current context: server, CA, insecure flag,
 *   tls-server-name, proxy-url; a token, token file, client certificate or basic auth. Token and
 *   certificate files are read on every refresh, so rotated ones are taken up; a pod without its token
 *   stops at start.
 * - here: JSON calls and streamed GETs (list pages, watches) on one connection pool with the
 *   kubeconfig's TLS settings, HTTP/2 when the server offers it (with client-go's flow-control window
 *   for a stream, H2_STREAM_WINDOW_BYTES), PINGs finding dead connections
 *   (DEFAULT_PING_INTERVAL_MS), TCP keep-alive, the forward proxy of proxy-url or HTTPS_PROXY/NO_PROXY
 *   (../forward-proxy.ts). Credentials are read again every 30 s and after a 401; a new client
 *   certificate (rotated on disk, or returned anew by an exec plugin) gets a new pool. As client-go's
 *   rest client does, every call but a watch waits for a token of the client-side rate limit (QPS and
 *   burst, rate-limiter.ts), every unary call has a deadline, and answers asking to come back later
 *   are retried here, the one place that retries them (RETRY below).
 * - watch-stream.ts, informer.ts, metadata-watch.ts: paginated lists, watches with bookmarks from the
 *   last resourceVersion, relist on 410, backoff, a liveness bound and a hot-loop guard; a cache of
 *   frozen objects, and metadata-only watches.
 * - leader.ts: Lease leader election as client-go's, on the monotonic clock.
 * What it leaves to others: HTTP/1.1, HTTP/2, TLS, pooling, PINGs and proxy tunnels to undici; exec
 * credential plugins, auth providers and several files in $KUBECONFIG to a client-node KubeConfig, loaded
 * only for such a kubeconfig. What it does not do: protobuf, discovery, impersonation, a CA file read
 * again (the CA is read at start).
 *
 * Outcomes: 2xx → parsed body; no answer, deadline passed, 5xx or 429 (once retries are spent) →
 * KubeUnavailableError (the Status as its cause); any other status → KubeApiError with the Status body
 * parsed. A call aborted by its caller's signal rejects with the abort.
 */

/** How long credentials read from the endpoint are used before they are read again (and after a 401). */
const CREDENTIALS_TTL_MS = 30_000;
const DEFAULT_TIMEOUT_MS = 30_000;
/**
 * The API server answers over HTTP/2 when asked, as undici does by default, so every call and watch
 * shares one connection. A watch that falls silent can be made again on it, but a connection that
 * died without closing (a NAT or load balancer that dropped it, a peer gone) takes every stream with
 * it: it is found out by PINGs, as client-go's HTTP/2 health check does (30 s idle, 15 s to answer),
 * and replaced within two intervals.
 */
const DEFAULT_PING_INTERVAL_MS = 30_000;
/**
 * HTTP/2 flow-control windows: a stream's as large as client-go's. With undici's (256 KiB a stream), a
 * watch of every namespace carrying AlarmEvents of half a megabyte waited for window updates several
 * times an object on a loaded machine, and every other namespace's events in that watch waited behind
 * them: one namespace's flood held another's alarm back 22-40 s, 8-11 s with these windows, side by side
 * on one machine (alarm-event-memory.test.ts). The connection's window bounds what the API server may
 * send ahead of what has been read, for every stream together.
 */
const H2_STREAM_WINDOW_BYTES = 4 * 2 ** 20;
const H2_CONNECTION_WINDOW_BYTES = 16 * 2 ** 20;

/**
 * The retry policy of answers that ask to come back later: 429 (API Priority and Fairness or the
 * in-flight limit turned the request away before running it) and 5xx with Retry-After. Such an answer
 * is retried after the Retry-After it gave (1 s for a 429 without one), through the rate limit again,
 * at most `attempts` calls in all, as client-go's rest/with_retry.go does with a smaller count. A
 * Retry-After longer than `maxWaitS`, or one that would end after the call's deadline, is not waited
 * for: the call fails at once with it, for the caller's own backoff (a work queue's) to honour.
 *
 * Only calls that may run twice are retried, since a 5xx may come after the write was made: GET, PUT
 * (the same object twice; with a resourceVersion a repeat of a write that landed is answered 409),
 * DELETE (a repeat is answered 404), and PATCH, which this client sends only as merge patches and
 * server-side apply, where applying the same patch twice equals once. POST is retried only when the
 * caller says it tolerates a repeat (`idempotent`: a create that takes AlreadyExists as done, a review).
 */
const RETRY = { attempts: 4, maxWaitS: 10, defaultWaitS: 1 };

/**
 * Sent with every call. The API server names the field manager of a write without one (status merge
 * patches, creates) after it.
 */
const USER_AGENT = 'dingtalk-operator';

export type KubeQuery = Record<string, string | number | boolean | undefined>;

export interface KubeHttpOptions {
  /**
   * Deadline of a JSON call from its start to its parsed answer, waits for the rate limit and retries
   * included, so a call on a dead keep-alive socket cannot hold its caller for undici's 5 minutes.
   * Streamed GETs have none: a watch stays open, and its reader judges its liveness.
   */
  timeoutMs?: number;
  /** Concurrent connections to the API server; null for no limit (watches hold one each). */
  connections?: number | null;
  /**
   * Interval of the HTTP/2 PINGs that prove a connection alive; one left unanswered for an interval
   * drops the connection, failing its streams so they are made again on a new one.
   */
  pingIntervalMs?: number;
  /** The client-side rate limit of every call but watches, as client-go's QPS and Burst; none if absent. */
  rateLimit?: { qps: number; burst: number } | undefined;
  /**
   * Where HTTPS_PROXY and NO_PROXY are read, when the kubeconfig names no proxy-url; process.env by
   * default. In a pod with a proxy for the internet, NO_PROXY must list the API server's address.
   */
  env?: Env;
  /** Told of every 429, and 5xx with Retry-After, and whether it was retried; for a metric. */
  onComeBackLater?: (answer: { status: number; retried: boolean }) => void;
  clock?: Clock;
}

/** What a caller sets for one call; `query` values left undefined are not sent. */
export interface KubeCallOptions {
  query?: KubeQuery;
  signal?: AbortSignal;
  /** The media types the answer may have; JSON unless a path serves another (such as a JWK set). */
  accept?: string;
}

/** The body of a streamed GET, read as it arrives (`for await`) or whole (`json()`). */
export type KubeStream = Dispatcher.ResponseData['body'];

/** For a POST that may run twice: the caller takes AlreadyExists as success, or it writes nothing. */
export interface KubePostOptions extends KubeCallOptions {
  idempotent?: boolean;
}

interface Call extends KubePostOptions {
  method: Dispatcher.HttpMethod;
  path: string;
  body?: string;
  contentType?: string;
  accept?: string;
}

/**
 * A unary call's deadline. Undici is given no signal for it: listening on one cost each call about 30 µs,
 * a twentieth of the client's whole work on it (bench/results/kube-client.md). Undici's own timeouts,
 * set to the time left when each request leaves, bound the wait for the answer's headers; the timer here
 * ends a body still arriving at the deadline, so an answer that trickles in cannot outlive it. The timer
 * is cleared as soon as the call ends: one left to run its course would keep each finished call alive for
 * the whole deadline, which a storm's tens of thousands of writes pay for in memory. A class, and its
 * timer given the deadline rather than a closure, since every call makes one.
 */
class Deadline {
  /** The deadline as a reading of the client's clock. */
  readonly at: number;
  readonly ms: number;
  /** Set by the timer; a failure after it is the deadline's. */
  passed = false;
  #reading: KubeStream | undefined;
  readonly #timer: NodeJS.Timeout;

  constructor(ms: number, clock: Clock) {
    this.ms = ms;
    this.at = clock.monotonicMs() + ms;
    this.#timer = setTimeout(Deadline.#pass, ms, this);
    // A call waiting on its answer does not by itself keep the process alive.
    this.#timer.unref();
  }

  static #pass(deadline: Deadline): void {
    deadline.passed = true;
    deadline.#reading?.destroy(deadline.#error());
  }

  /** Ends `body` when the deadline passes while it is read, or at once if it has. */
  bound(body: KubeStream): void {
    this.#reading = body;
    if (this.passed) body.destroy(this.#error());
  }

  /** Stops the timer once the call is over. */
  release(): void {
    clearTimeout(this.#timer);
  }

  #error(): DOMException {
    return new DOMException(`no answer within ${this.ms} ms`, 'TimeoutError');
  }
}

export class KubeHttp {
  readonly #endpoint: KubeEndpoint;
  readonly #server: string;
  readonly #timeoutMs: number;
  readonly #transport: TransportOptions;
  readonly #limiter: TokenBucket | undefined;
  readonly #rateLimit: KubeHttpOptions['rateLimit'];
  readonly #clock: Clock;
  readonly #onComeBackLater: KubeHttpOptions['onComeBackLater'];
  /** Shared with the clients withOwnRateLimit() makes: one session, one pool of connections. */
  #shared: { session?: Session; refreshing?: Promise<Session> } = {};

  constructor(
    endpoint: KubeEndpoint,
    {
      timeoutMs = DEFAULT_TIMEOUT_MS,
      connections = 32,
      pingIntervalMs = DEFAULT_PING_INTERVAL_MS,
      env = process.env,
      rateLimit,
      onComeBackLater,
      clock = systemClock,
    }: KubeHttpOptions = {},
  ) {
    const cluster = endpoint.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    this.#endpoint = endpoint;
    this.#server = cluster.server.replace(/\/$/, '');
    this.#timeoutMs = timeoutMs;
    this.#clock = clock;
    this.#limiter = rateLimit && new TokenBucket(rateLimit.qps, rateLimit.burst, clock);
    this.#rateLimit = rateLimit;
    this.#onComeBackLater = onComeBackLater;
    this.#transport = { connections, pingIntervalMs, proxyUrl: cluster.proxyUrl, env };
  }

  /**
   * This client (its connections, credentials, deadlines and retries) with a token bucket of its own of the
   * same QPS and burst, as client-go gives each client made from one config its own: the operator's Events
   * go through one, so a burst of them never makes a status write wait for a token, nor the other way round.
   */
  withOwnRateLimit(): KubeHttp {
    const sibling = new KubeHttp(this.#endpoint, {
      timeoutMs: this.#timeoutMs,
      connections: this.#transport.connections,
      pingIntervalMs: this.#transport.pingIntervalMs,
      env: this.#transport.env,
      rateLimit: this.#rateLimit,
      onComeBackLater: this.#onComeBackLater,
      clock: this.#clock,
    });
    sibling.#shared = this.#shared;
    return sibling;
  }

  async get<T>(path: string, options: KubeCallOptions = {}): Promise<T> {
    return this.#json<T>({ ...options, method: 'GET', path });
  }

  async post<T>(path: string, body: unknown, options: KubePostOptions = {}): Promise<T> {
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
    { query, signal, accept = 'application/json' }: KubeCallOptions,
  ): Promise<KubeStream> {
    const response = await this.#send({ method: 'GET', path, query, signal, accept }, undefined);
    if (response.statusCode >= 200 && response.statusCode < 300) return response.body;
    const text = await response.body.text().catch(() => '');
    throw this.#failure(response, text);
  }

  async close(): Promise<void> {
    const session = this.#shared.session ?? (await this.#shared.refreshing?.catch(() => undefined));
    await session?.dispatcher.close();
  }

  async #json<T>(call: Call): Promise<T> {
    const deadline = new Deadline(this.#timeoutMs, this.#clock);
    try {
      const response = await this.#send(call, deadline);
      deadline.bound(response.body);
      let text: string;
      try {
        text = await response.body.text();
      } catch (err) {
        if (call.signal?.aborted) throw err;
        throw new KubeUnavailableError(
          `Kubernetes API answer cut off: ${describeFailure(err, deadline)}`,
          undefined,
          {
            cause: err,
          },
        );
      }
      if (response.statusCode >= 200 && response.statusCode < 300) return JSON.parse(text) as T;
      throw this.#failure(response, text);
    } finally {
      deadline.release();
    }
  }

  /** The call's answer, once the rate limit let it through and retries (RETRY) are done. */
  async #send(call: Call, deadline: Deadline | undefined): Promise<Dispatcher.ResponseData> {
    // A watch holds its connection for minutes: pacing its start would pace nothing.
    const limited = this.#limiter && !call.query?.watch ? this.#limiter : undefined;
    for (let attempt = 1; ; attempt++) {
      if (limited && !(await limited.take(call.signal, deadline?.at))) {
        throw new KubeUnavailableError(
          `client-side rate limit: no token before the call's ${deadline?.ms} ms deadline`,
        );
      }
      call.signal?.throwIfAborted();
      const response = await this.#request(call, deadline);
      const waitS = this.#retryWait(call, response, attempt, deadline);
      if (waitS === undefined) return response;
      await response.body.dump();
      await sleep(waitS * 1000, call.signal, this.#clock);
      call.signal?.throwIfAborted();
    }
  }

  /** Seconds to wait before retrying this answer, or undefined when it is final (RETRY). */
  #retryWait(call: Call, response: Dispatcher.ResponseData, attempt: number, deadline: Deadline | undefined) {
    const status = response.statusCode;
    const retryAfter = retryAfterSeconds(response.headers['retry-after']);
    if (status !== 429 && !(status >= 500 && retryAfter !== undefined)) return undefined;
    const waitS = retryAfter ?? RETRY.defaultWaitS;
    const retried =
      (call.method !== 'POST' || call.idempotent === true) &&
      attempt < RETRY.attempts &&
      waitS <= RETRY.maxWaitS &&
      this.#clock.monotonicMs() + waitS * 1000 < (deadline?.at ?? Number.POSITIVE_INFINITY);
    this.#onComeBackLater?.({ status, retried });
    return retried ? waitS : undefined;
  }

  async #request(
    { method, path, query, signal, body, contentType, accept = 'application/json' }: Call,
    deadline: Deadline | undefined,
  ): Promise<Dispatcher.ResponseData> {
    const { dispatcher, headers: credentials } = await this.#current();
    const headers: Record<string, string> = {
      ...credentials,
      accept,
      'user-agent': USER_AGENT,
    };
    if (contentType) headers['content-type'] = contentType;
    // Undici's idle timeouts: at most the time left, so waiting for the headers ends by the deadline.
    const timeLeft = deadline && Math.max(1, Math.ceil(deadline.at - this.#clock.monotonicMs()));
    try {
      return await request(this.#server + path + queryString(query), {
        method,
        body,
        headers,
        dispatcher,
        signal,
        headersTimeout: timeLeft,
        bodyTimeout: timeLeft,
      });
    } catch (err) {
      if (signal?.aborted) throw err;
      throw new KubeUnavailableError(
        `Kubernetes API unreachable: ${describeFailure(err, deadline)}`,
        undefined,
        {
          cause: err,
        },
      );
    }
  }

  #failure(response: Dispatcher.ResponseData, text: string): Error {
    const status = response.statusCode;
    if (status === 401 && this.#shared.session) this.#shared.session.expires = 0;
    if (status === 429 || status >= 500) {
      return new KubeUnavailableError(
        `Kubernetes API answered ${status}`,
        retryAfterSeconds(response.headers['retry-after']),
        { cause: KubeApiError.fromResponse(status, text) },
      );
    }
    return KubeApiError.fromResponse(status, text);
  }

  /** The credentials and the dispatcher with the TLS identity they go with, read again once stale. */
  #current(): Promise<Session> {
    const shared = this.#shared;
    const session = shared.session;
    if (session && session.expires > this.#clock.monotonicMs()) return Promise.resolve(session);
    shared.refreshing ??= this.#refresh(session).finally(() => {
      shared.refreshing = undefined;
    });
    return shared.refreshing;
  }

  /**
   * Reads the endpoint's credentials again: the token for the header, and the client certificate, which
   * a file or an exec plugin may have replaced. A new certificate gets a new dispatcher, whose
   * connections present it; the previous one is closed once the calls and watches on it end.
   */
  async #refresh(previous: Session | undefined): Promise<Session> {
    const options: HttpsOptions = {};
    await this.#endpoint.applyToHTTPSOptions(options);
    const headers: Record<string, string> = {};
    for (const [name, header] of Object.entries(options.headers ?? {})) {
      headers[name.toLowerCase()] = Array.isArray(header) ? header.join(', ') : String(header);
    }
    const tls: ConnectionOptions = {
      ca: options.ca,
      cert: options.cert,
      key: options.key,
      servername: options.servername,
    };
    if (options.rejectUnauthorized !== undefined) tls.rejectUnauthorized = options.rejectUnauthorized;
    const dispatcher =
      previous && sameTls(previous.tls, tls) ? previous.dispatcher : this.#createDispatcher(tls);
    if (previous && previous.dispatcher !== dispatcher) previous.dispatcher.close().catch(() => undefined);
    this.#shared.session = {
      headers,
      tls,
      dispatcher,
      expires: this.#clock.monotonicMs() + CREDENTIALS_TTL_MS,
    };
    return this.#shared.session;
  }

  #createDispatcher(tls: ConnectionOptions): Dispatcher {
    const { connections, pingIntervalMs, proxyUrl, env } = this.#transport;
    // TCP keep-alive probes after 30 s idle, as client-go does, so a load balancer keeps an idle watch.
    return proxiedAgent({
      connections,
      keepAliveTimeout: 30_000,
      // The option undici reads for the stream window; it does not read h2Options.settings' yet.
      initialWindowSize: H2_STREAM_WINDOW_BYTES,
      h2Options: { pingInterval: pingIntervalMs, connectionWindowSize: H2_CONNECTION_WINDOW_BYTES },
      connect: { ...tls, keepAlive: true, keepAliveInitialDelay: 30_000 },
      proxyUrl,
      env,
    });
  }
}

interface TransportOptions {
  connections: number | null;
  pingIntervalMs: number;
  proxyUrl: string | undefined;
  env: Env;
}

interface Session {
  /** The credential headers, lower-cased. */
  headers: Record<string, string>;
  tls: ConnectionOptions;
  dispatcher: Dispatcher;
  /** When to read the credentials again, on the client's clock. */
  expires: number;
}

function sameTls(a: ConnectionOptions, b: ConnectionOptions): boolean {
  const same = (x: unknown, y: unknown) => (Buffer.isBuffer(x) && Buffer.isBuffer(y) ? x.equals(y) : x === y);
  return (
    same(a.ca, b.ca) &&
    same(a.cert, b.cert) &&
    same(a.key, b.key) &&
    a.servername === b.servername &&
    a.rejectUnauthorized === b.rejectUnauthorized
  );
}

/** The rate limit of a process's --kube-api-qps and --kube-api-burst; qps 0 asks for none. */
export function rateLimitOf(config: {
  kubeApiQps: number;
  kubeApiBurst: number;
}): KubeHttpOptions['rateLimit'] {
  return config.kubeApiQps > 0 ? { qps: config.kubeApiQps, burst: config.kubeApiBurst } : undefined;
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

function describeFailure(err: unknown, deadline: Deadline | undefined): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code ?? (err.cause as { code?: unknown } | undefined)?.code;
  if (deadline && (deadline.passed || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT'))
    return `no answer within the ${deadline.ms} ms deadline`;
  return typeof code === 'string' ? `${code} ${err.message}` : err.message;
}
