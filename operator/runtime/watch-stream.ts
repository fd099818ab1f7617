import type { Logger } from 'pino';
import { KubeApiError, type KubeStatus, toKubeApiError, WatchExpiredError } from '../errors.ts';
import { type BackoffPolicy, backoffDelay } from './backoff.ts';
import type { KubeHttp, KubeQuery } from './kube-http.ts';
import { type Clock, sleep, systemClock } from './timers.ts';

/**
 * A watch of one collection kept open for as long as it is wanted: the stream reader, the reconnect
 * rule and the liveness rule that the informer and the metadata watch share.
 *
 * - Each watch asks for bookmarks and for a server-side timeout (with up to 10 % jitter, so replicas do
 *   not reconnect in step), and starts from the last resourceVersion seen, bookmarks included. When
 *   there is none (at the start, after 410 Gone) `begin` supplies it: the informer lists.
 * - Liveness: on a quiet watch the API server sends a bookmark about once a minute, so a watch that has
 *   brought no line for `livenessMs` (default two and a half bookmark intervals), or no answer to its
 *   request, is presumed dead (a half-open connection, a proxy that stopped forwarding) and is made
 *   again at once. Without this a silent watch would last until undici's 5-minute body timeout.
 * - 410 Gone (an answer or an ERROR line) forgets the resourceVersion; any other failure, of the watch or
 *   of `begin`, is retried after a backoff (1 s doubling to 30 s, jittered), forever.
 * - Hot-loop guard: a watch that ends in any way less than a second after it was made counts as a
 *   failure as well, so a server or proxy that accepts a watch and closes it at once (or answers 410 at
 *   once) is retried on the backoff instead of in a loop. A watch that lasted longer resets the backoff.
 */

export interface WatchEvent<O> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: O;
}

type Line<O> =
  | WatchEvent<O>
  | { type: 'BOOKMARK'; object: O }
  | { type: 'ERROR'; object: KubeStatus & { code?: number; message?: string } };

export interface WatchStreamOptions<O> {
  kube: Pick<KubeHttp, 'stream'>;
  /** Collection path, e.g. /api/v1/namespaces/ns/secrets. */
  path: string;
  /** Sent with every watch, e.g. labelSelector and fieldSelector. */
  query?: KubeQuery | undefined;
  /** Accept header, e.g. to ask for metadata only. */
  accept?: string | undefined;
  /**
   * The resourceVersion to watch from when there is none: at the start and after 410 Gone. Undefined
   * watches from now, the API server first reporting every existing object as ADDED.
   */
  begin(signal: AbortSignal): Promise<string | undefined>;
  /** The API server accepted a watch from `resourceVersion`. */
  onOpen?(resourceVersion: string | undefined): void;
  /** A change; bookmarks are taken in here and not passed on. */
  onEvent(event: WatchEvent<O>): void;
  /** Server-side timeout of each watch. */
  timeoutSeconds?: number | undefined;
  /** Silence after which a watch is presumed dead. */
  livenessMs?: number | undefined;
  backoff?: Partial<Pick<BackoffPolicy, 'initialMs' | 'maxMs'>> | undefined;
  clock?: Clock | undefined;
  logger: Logger;
}

type Versioned = { metadata?: { resourceVersion?: string } };

/** The API server's bookmark interval. */
const BOOKMARK_INTERVAL_MS = 60_000;
const DEFAULT_LIVENESS_MS = 2.5 * BOOKMARK_INTERVAL_MS;
const MIN_HEALTHY_WATCH_MS = 1000;
const SILENT = Symbol('watch silent');

export class WatchStream<O extends Versioned> {
  readonly #options: WatchStreamOptions<O>;
  readonly #clock: Clock;
  readonly #livenessMs: number;
  #resourceVersion: string | undefined;
  #lastError: unknown;
  #failures = 0;

  constructor(options: WatchStreamOptions<O>) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#livenessMs = options.livenessMs ?? DEFAULT_LIVENESS_MS;
  }

  /** The resourceVersion the next watch starts from. */
  get resourceVersion(): string | undefined {
    return this.#resourceVersion;
  }

  /** The last failure since the last success (a line read or `begin` done), for readiness detail. */
  get lastError(): unknown {
    return this.#lastError;
  }

  /** Watches until `stop` aborts, which ends it quietly: an aborted request is not an error. */
  async run(stop: AbortSignal): Promise<void> {
    const log = this.#options.logger;
    while (!stop.aborted) {
      let opened: number | undefined;
      let failed = false;
      try {
        if (this.#resourceVersion === undefined) {
          this.#resourceVersion = await this.#options.begin(stop);
          this.#succeeded();
        }
        opened = this.#clock.monotonicMs();
        await this.#watch(stop);
      } catch (err) {
        if (stop.aborted) return;
        if (err instanceof WatchExpiredError || toKubeApiError(err)?.status === 410) {
          log.info({ resourceVersion: this.#resourceVersion }, 'resourceVersion expired; starting afresh');
          this.#resourceVersion = undefined;
        } else {
          failed = true;
          this.#lastError = err;
          log.warn({ err }, 'list/watch failed; retrying');
        }
      }
      if (stop.aborted) return;
      const lived = opened === undefined ? 0 : this.#clock.monotonicMs() - opened;
      if (lived >= MIN_HEALTHY_WATCH_MS) this.#failures = 0;
      if (failed || lived < MIN_HEALTHY_WATCH_MS) await this.#backoff(stop);
    }
  }

  /** One watch, until the server closes it or it falls silent; throws what failed it. */
  async #watch(stop: AbortSignal): Promise<void> {
    const { kube, path, query, accept, timeoutSeconds = 300 } = this.#options;
    const from = this.#resourceVersion;
    const attempt = new AbortController();
    // A line only records when it came; the one timer looks at that when it fires, rather than each of a
    // storm's lines clearing and setting a timer of its own.
    let heardAt = this.#clock.monotonicMs();
    let cancelTimer: () => void = () => undefined;
    const checkAlive = () => {
      const silentMs = this.#clock.monotonicMs() - heardAt;
      if (silentMs >= this.#livenessMs) attempt.abort(SILENT);
      else cancelTimer = this.#clock.timer(this.#livenessMs - silentMs, checkAlive);
    };
    cancelTimer = this.#clock.timer(this.#livenessMs, checkAlive);
    try {
      const body = await kube.stream(path, {
        query: {
          ...query,
          watch: true,
          resourceVersion: from,
          allowWatchBookmarks: true,
          timeoutSeconds: Math.round(timeoutSeconds * (1 + Math.random() * 0.1)),
        },
        signal: AbortSignal.any([stop, attempt.signal]),
        ...(accept && { accept }),
      });
      this.#options.onOpen?.(from);
      await readJsonLines<Line<O>>(body, (line) => {
        heardAt = this.#clock.monotonicMs();
        this.#take(line);
      });
    } catch (err) {
      if (attempt.signal.reason !== SILENT) throw err;
      this.#options.logger.info({ livenessMs: this.#livenessMs }, 'watch silent for too long; reconnecting');
    } finally {
      cancelTimer();
      attempt.abort();
    }
  }

  #take(line: Line<O>): void {
    if (line.type === 'ERROR') {
      const status = line.object;
      if (status.code === 410) throw new WatchExpiredError(status.message ?? 'watch expired');
      throw new KubeApiError(status.code ?? 500, status);
    }
    this.#resourceVersion = line.object.metadata?.resourceVersion ?? this.#resourceVersion;
    this.#succeeded();
    if (line.type !== 'BOOKMARK') this.#options.onEvent(line);
  }

  #succeeded(): void {
    this.#lastError = undefined;
  }

  async #backoff(stop: AbortSignal): Promise<void> {
    const { initialMs = 1000, maxMs = 30_000 } = this.#options.backoff ?? {};
    this.#failures++;
    await sleep(backoffDelay(this.#failures, { initialMs, maxMs, jitter: 0.2 }), stop, this.#clock);
  }
}

/**
 * Hands `onDocument` the JSON documents of a newline-delimited stream, each parsed as it completes. Only
 * each new chunk is searched for the newline, and a document's chunks are joined once: a large object (an
 * AlarmEvent may be half a megabyte) arrives in many chunks, and searching all the pending text after each
 * one made reading it cost its size times its chunks, four times the parse itself for such an AlarmEvent in
 * 16 KiB chunks. A callback rather than an async generator, whose every document cost a promise or two.
 */
export async function readJsonLines<T>(
  body: AsyncIterable<Uint8Array>,
  onDocument: (document: T) => void,
): Promise<void> {
  const decoder = new TextDecoder();
  let pending: string[] = [];
  for await (const chunk of body) {
    const text = decoder.decode(chunk, { stream: true });
    let start = 0;
    for (let newline = text.indexOf('\n'); newline !== -1; newline = text.indexOf('\n', start)) {
      let line = text.slice(start, newline);
      if (pending.length > 0) {
        pending.push(line);
        line = pending.join('');
        pending = [];
      }
      start = newline + 1;
      line = line.trim();
      if (line) onDocument(JSON.parse(line) as T);
    }
    if (start < text.length) pending.push(text.slice(start));
  }
}
