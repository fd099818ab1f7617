import { type Logger, pino } from 'pino';
import { KubeApiError, type KubeStatus, toKubeApiError, WatchExpiredError } from '../errors.ts';
import type { KubeHttp } from './kube-http.ts';
import { Latch } from './latch.ts';
import { sleep } from './timers.ts';

/**
 * Tells which objects of a collection change, without holding or even receiving them: a watch that asks
 * the API server for metadata only (PartialObjectMetadata) and never lists. Used for Secrets and
 * ConfigMaps, of which a cluster may hold thousands that are none of the operator's business.
 *
 * A watch started without a resourceVersion first reports every existing object as added; `onStart`
 * says when that happens, so the caller can re-read what it holds (deletions during a gap are not
 * reported). After a clean close it resumes from the last resourceVersion; 410 Gone starts afresh;
 * other failures back off (1 s → 30 s, jittered). A watch silent for twice the server timeout (bookmarks
 * included) is presumed dead.
 */

export interface MetadataEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  namespace: string;
  name: string;
  resourceVersion: string | undefined;
}

export interface MetadataWatchOptions {
  kube: KubeHttp;
  /** Collection path, e.g. /api/v1/namespaces/ns/secrets or /api/v1/secrets. */
  path: string;
  onEvent(event: MetadataEvent): void;
  /** A fresh watch has started: every existing object is about to be reported as ADDED. */
  onStart(): void;
  timeoutSeconds?: number;
  logger?: Logger;
}

const ACCEPT = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1';
const IDLE = Symbol('watch idle');

interface WatchLine {
  type: MetadataEvent['type'] | 'BOOKMARK' | 'ERROR';
  object: { metadata?: { name?: string; namespace?: string; resourceVersion?: string } } & KubeStatus;
}

export class MetadataWatch {
  readonly #options: MetadataWatchOptions;
  readonly #log: Logger;
  #resourceVersion: string | undefined;
  readonly #established = new Latch();
  #failures = 0;
  #stop: AbortController | undefined;
  #loop: Promise<void> | undefined;

  constructor(options: MetadataWatchOptions) {
    this.#options = options;
    this.#log = (options.logger ?? pino({ level: 'silent' })).child({ metadataWatch: options.path });
  }

  start(): void {
    if (this.#loop) return;
    this.#stop = new AbortController();
    this.#loop = this.#run(this.#stop.signal);
  }

  async stop(): Promise<void> {
    this.#stop?.abort();
    await this.#loop;
    this.#loop = undefined;
  }

  /** True once a watch has been accepted by the API server (so changes from then on are seen). */
  get established(): boolean {
    return this.#established.isOpen;
  }

  waitForEstablished(signal?: AbortSignal): Promise<void> {
    return this.#established.wait(signal);
  }

  async #run(stop: AbortSignal): Promise<void> {
    while (!stop.aborted) {
      try {
        await this.#watch(stop);
      } catch (err) {
        if (stop.aborted) return;
        if (err === IDLE) {
          this.#log.info('watch silent for too long; reconnecting');
        } else if (err instanceof WatchExpiredError || toKubeApiError(err)?.status === 410) {
          this.#resourceVersion = undefined;
        } else {
          this.#log.warn({ err }, 'metadata watch failed; retrying');
          await this.#backoff(stop);
        }
      }
    }
  }

  async #watch(stop: AbortSignal): Promise<void> {
    const { kube, path, timeoutSeconds = 300 } = this.#options;
    const serverTimeout = Math.round(timeoutSeconds * (1 + Math.random() * 0.1));
    const attempt = new AbortController();
    let idleTimer: NodeJS.Timeout | undefined;
    const resetIdle = () => {
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => attempt.abort(IDLE), serverTimeout * 2000);
    };
    resetIdle();
    try {
      const fresh = this.#resourceVersion === undefined;
      const body = await kube.stream(path, {
        query: {
          watch: true,
          resourceVersion: this.#resourceVersion,
          allowWatchBookmarks: true,
          timeoutSeconds: serverTimeout,
        },
        signal: AbortSignal.any([stop, attempt.signal]),
        accept: ACCEPT,
      });
      this.#failures = 0;
      if (fresh) this.#options.onStart();
      this.#established.open();
      const decoder = new TextDecoder();
      let buffered = '';
      for await (const chunk of body) {
        resetIdle();
        buffered += decoder.decode(chunk, { stream: true });
        let newline = buffered.indexOf('\n');
        while (newline !== -1) {
          const line = buffered.slice(0, newline).trim();
          buffered = buffered.slice(newline + 1);
          if (line) this.#apply(JSON.parse(line) as WatchLine);
          newline = buffered.indexOf('\n');
        }
      }
    } catch (err) {
      throw attempt.signal.aborted && attempt.signal.reason === IDLE ? IDLE : err;
    } finally {
      clearTimeout(idleTimer);
      attempt.abort();
    }
  }

  #apply(line: WatchLine): void {
    const { metadata } = line.object;
    if (line.type === 'ERROR') {
      if (line.object.code === 410) throw new WatchExpiredError(line.object.message ?? 'watch expired');
      throw new KubeApiError(line.object.code ?? 500, line.object);
    }
    this.#resourceVersion = metadata?.resourceVersion ?? this.#resourceVersion;
    if (line.type === 'BOOKMARK' || !metadata?.name) return;
    this.#options.onEvent({
      type: line.type,
      namespace: metadata.namespace ?? '',
      name: metadata.name,
      resourceVersion: metadata.resourceVersion,
    });
  }

  async #backoff(stop: AbortSignal): Promise<void> {
    const delay = Math.min(1000 * 2 ** this.#failures, 30_000) * (0.8 + 0.4 * Math.random());
    this.#failures++;
    await sleep(delay, stop);
  }
}
