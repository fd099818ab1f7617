import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';
import { type Logger, pino } from 'pino';
import type { KubeHttp } from './kube-http.ts';
import { Latch } from './latch.ts';
import type { Clock } from './timers.ts';
import { type WatchEvent, WatchStream } from './watch-stream.ts';

/**
 * Tells which objects of a collection change, without holding or even receiving them: a watch that asks
 * the API server for metadata only (PartialObjectMetadata) and never lists. Used for Secrets and
 * ConfigMaps, of which a cluster may hold thousands that are none of the operator's business.
 *
 * A watch started without a resourceVersion first reports every existing object as added; `onStart`
 * says when that happens, so the caller can re-read what it holds (deletions during a gap are not
 * reported). Reconnects, 410 Gone (start afresh), backoff and the liveness rule are
 * runtime/watch-stream.ts's, shared with the informer.
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
  /** Silence after which a watch is presumed dead; default two and a half bookmark intervals. */
  livenessMs?: number;
  clock?: Clock;
  logger?: Logger;
}

/** What a watch `as=PartialObjectMetadata` carries of each object. */
type PartialObjectMetadata = { metadata?: ObjectMeta };

const ACCEPT = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1';

export class MetadataWatch {
  readonly #stream: WatchStream<PartialObjectMetadata>;
  readonly #established = new Latch();
  #stop: AbortController | undefined;
  #loop: Promise<void> | undefined;

  constructor(options: MetadataWatchOptions) {
    const { kube, path, timeoutSeconds, livenessMs, clock } = options;
    this.#stream = new WatchStream<PartialObjectMetadata>({
      kube,
      path,
      accept: ACCEPT,
      // No list: a watch from now reports every existing object as ADDED.
      begin: async () => undefined,
      onOpen: (resourceVersion) => {
        // Open first: what onStart does may ask whether the watch is established.
        this.#established.open();
        if (resourceVersion === undefined) options.onStart();
      },
      onEvent: (event) => report(event, options.onEvent),
      timeoutSeconds,
      livenessMs,
      clock,
      logger: (options.logger ?? pino({ level: 'silent' })).child({ metadataWatch: path }),
    });
  }

  start(): void {
    if (this.#loop) return;
    this.#stop = new AbortController();
    this.#loop = this.#stream.run(this.#stop.signal);
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
}

function report(
  { type, object }: WatchEvent<PartialObjectMetadata>,
  onEvent: MetadataWatchOptions['onEvent'],
) {
  const { metadata } = object;
  if (!metadata?.name) return;
  onEvent({
    type,
    namespace: metadata.namespace ?? '',
    name: metadata.name,
    resourceVersion: metadata.resourceVersion,
  });
}
