import type { KubernetesObject } from '@kubernetes/client-node';
import type { ListMeta } from 'kubernetes-types/meta/v1.js';
import { type Logger, pino } from 'pino';
import type { KubeHttp } from './kube-http.ts';
import { Latch } from './latch.ts';
import type { Clock } from './timers.ts';
import { type WatchEvent, WatchStream } from './watch-stream.ts';

/**
 * A list+watch cache for one collection (core kinds and custom resources alike).
 *
 * Built on streamed GETs (kube-http.ts) rather than client-node's Watch or makeInformer: Watch only hands
 * out its AbortController after the response headers arrive (a hanging connect cannot be stopped), keeps
 * a private 30 s inactivity timer that is shorter than the API server's bookmark interval, and drops the
 * Status body of a failed request; makeInformer stops on any error but 410 and reports stop() as an
 * error (kubernetes-typescript.md §1.5).
 *
 * Loop: paginated list → watch from the list's resourceVersion → on a clean close re-watch from the
 * last resourceVersion → on 410 Gone relist → on anything else back off and retry, forever. The watch,
 * its liveness rule (a watch silent for two and a half bookmark intervals is made again) and its
 * backoff are runtime/watch-stream.ts's, shared with the metadata watch.
 *
 * Cached objects are deep-frozen and shared read-only; handlers receive the event type, the key and
 * those frozen objects. Clone (structuredClone) before changing anything. They are cached without what
 * no part of the operator reads: managedFields (often the larger part of an object whose status the
 * operator writes) and kubectl's last-applied-configuration (a second copy of the object); a kind whose
 * objects tenants can make large is cached as the `transform` option projects it.
 */

export type ObjectKey = string;

interface EventBase<T> {
  key: ObjectKey;
  namespace: string;
  name: string;
  object: Readonly<T>;
}
export type InformerEvent<T> =
  | (EventBase<T> & { type: 'add' })
  | (EventBase<T> & { type: 'update'; oldObject: Readonly<T> })
  | (EventBase<T> & { type: 'delete' });
/** True for an add or delete, or an update of what the object asks for (not its status alone). */
export function specChanged(event: InformerEvent<{ metadata?: { generation?: number } }>): boolean {
  if (event.type !== 'update') return true;
  const generation = event.object.metadata?.generation;
  // Secrets and ConfigMaps have no generation: any update may change what they hold.
  if (generation === undefined) return true;
  return generation !== event.oldObject.metadata?.generation;
}

export type InformerHandler<T> = (event: InformerEvent<T>) => void;

export interface InformerOptions<T = KubernetesObject> {
  kube: KubeHttp;
  /** Collection path, e.g. from collectionPath(): /api/v1/namespaces/ns/configmaps, /apis/g/v/plural. */
  path: string;
  labelSelector?: string;
  fieldSelector?: string;
  /**
   * Objects per list page. A page is parsed whole before it is trimmed, so a kind whose objects can be
   * large lists in small pages.
   */
  pageSize?: number;
  /**
   * What of each object is cached and handed to handlers, applied to every object as it is parsed (list
   * pages and watch events), after managedFields and last-applied-configuration are dropped. It may
   * change its argument and must keep metadata.name, namespace, uid and resourceVersion. A watch event's
   * object comes with what is cached under its name, whose projection it may reuse.
   */
  transform?: (obj: T, cached: Readonly<T> | undefined) => T;
  /** Server-side watch timeout; each watch adds up to 10 % jitter so replicas do not reconnect in step. */
  timeoutSeconds?: number;
  /** Silence after which a watch is presumed dead; default two and a half bookmark intervals. */
  livenessMs?: number;
  backoff?: { initialMs?: number; maxMs?: number };
  clock?: Clock;
  logger?: Logger;
}

export function objectKey(obj: KubernetesObject): ObjectKey {
  const { namespace, name } = obj.metadata ?? {};
  return namespace ? `${namespace}/${name}` : `${name}`;
}

export function splitKey(key: ObjectKey): { namespace: string; name: string } {
  const slash = key.indexOf('/');
  return slash === -1
    ? { namespace: '', name: key }
    : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

export class Informer<T extends KubernetesObject = KubernetesObject> {
  readonly path: string;
  readonly #options: InformerOptions<T>;
  readonly #log: Logger;
  readonly #handlers = new Set<InformerHandler<T>>();
  #cache = new Map<ObjectKey, Readonly<T>>();
  /** The cache by namespace, so a namespace's objects are found without going through every other's. */
  #byNamespace = new Map<string, Map<ObjectKey, Readonly<T>>>();
  readonly #stream: WatchStream<T>;
  readonly #synced = new Latch();
  #stop: AbortController | undefined;
  #loop: Promise<void> | undefined;

  constructor(options: InformerOptions<T>) {
    this.#options = options;
    this.path = options.path;
    this.#log = (options.logger ?? pino({ level: 'silent' })).child({ informer: options.path });
    const { kube, labelSelector, fieldSelector, timeoutSeconds, livenessMs, backoff, clock } = options;
    this.#stream = new WatchStream<T>({
      kube,
      path: this.path,
      query: { labelSelector, fieldSelector },
      begin: (signal) => this.#relist(signal),
      onEvent: (event) => this.#apply(event),
      timeoutSeconds,
      livenessMs,
      backoff,
      clock,
      logger: this.#log,
    });
  }

  /** Subscribes to add/update/delete; returns the unsubscribe function. */
  onEvent(handler: InformerHandler<T>): () => void {
    this.#handlers.add(handler);
    return () => this.#handlers.delete(handler);
  }

  start(): void {
    if (this.#loop) return;
    this.#stop = new AbortController();
    this.#loop = this.#stream.run(this.#stop.signal);
  }

  /** Ends the watch quietly: an aborted request is not an error. */
  async stop(): Promise<void> {
    this.#stop?.abort();
    await this.#loop;
    this.#loop = undefined;
  }

  /** True once the first list has been applied; stays true across relists, as in client-go. */
  hasSynced(): boolean {
    return this.#synced.isOpen;
  }

  waitForSync(signal?: AbortSignal): Promise<void> {
    return this.#synced.wait(signal);
  }

  /** The last list or watch failure since the last success, for readiness detail. */
  get lastError(): unknown {
    return this.#stream.lastError;
  }

  /** The resourceVersion the next watch starts from. */
  get resourceVersion(): string | undefined {
    return this.#stream.resourceVersion;
  }

  get(namespace: string, name: string): Readonly<T> | undefined {
    return this.#cache.get(namespace ? `${namespace}/${name}` : name);
  }

  getByKey(key: ObjectKey): Readonly<T> | undefined {
    return this.#cache.get(key);
  }

  /** Every cached object, or those of one namespace. */
  list(namespace?: string): Readonly<T>[] {
    if (namespace === undefined) return [...this.#cache.values()];
    return [...(this.#byNamespace.get(namespace)?.values() ?? [])];
  }

  /** Replaces the cache with a fresh list, emitting what changed; resolves with its resourceVersion. */
  async #relist(stop: AbortSignal): Promise<string | undefined> {
    const { kube, labelSelector, fieldSelector, pageSize = 500 } = this.#options;
    const next = new Map<ObjectKey, Readonly<T>>();
    let continueToken: string | undefined;
    let resourceVersion: string | undefined;
    do {
      const body = await kube.stream(this.path, {
        query: { limit: pageSize, continue: continueToken, labelSelector, fieldSelector },
        signal: stop,
      });
      const page = (await body.json()) as {
        apiVersion?: string;
        kind?: string;
        metadata?: ListMeta;
        items?: T[];
      };
      const kind = page.kind?.replace(/List$/, '');
      for (const item of page.items ?? []) {
        const key = objectKey(item);
        const obj = this.#prepare({ apiVersion: page.apiVersion, kind, ...item }, this.#cache.get(key));
        next.set(key, obj);
      }
      continueToken = page.metadata?.continue || undefined;
      resourceVersion = page.metadata?.resourceVersion;
    } while (continueToken);

    const previous = this.#cache;
    this.#cache = next;
    this.#byNamespace = new Map();
    for (const [key, obj] of next) this.#index(key, obj);
    for (const [key, obj] of next) {
      const old = previous.get(key);
      if (!old) this.#emit('add', key, obj);
      else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) this.#replaced(key, old, obj);
    }
    for (const [key, old] of previous) {
      if (!next.has(key)) this.#emit('delete', key, old);
    }
    this.#synced.open();
    return resourceVersion;
  }

  #apply(event: WatchEvent<T>): void {
    const key = objectKey(event.object);
    const old = this.#cache.get(key);
    const frozen = this.#prepare(event.object, old);
    if (event.type === 'DELETED') {
      this.#cache.delete(key);
      const namespace = frozen.metadata?.namespace ?? '';
      const inNamespace = this.#byNamespace.get(namespace);
      inNamespace?.delete(key);
      if (inNamespace?.size === 0) this.#byNamespace.delete(namespace);
      this.#emit('delete', key, frozen);
      return;
    }
    this.#cache.set(key, frozen);
    this.#index(key, frozen);
    if (old) this.#replaced(key, old, frozen);
    else this.#emit('add', key, frozen);
  }

  /** A freshly parsed object as it is cached: trimmed, its spec kept from the cached version, projected, frozen. */
  #prepare(obj: T, cached?: Readonly<T>): Readonly<T> {
    const trimmed = keepSpec(trim(obj), cached);
    return deepFreeze(this.#options.transform ? this.#options.transform(trimmed, cached) : trimmed);
  }

  #index(key: ObjectKey, obj: Readonly<T>): void {
    const namespace = obj.metadata?.namespace ?? '';
    const inNamespace = this.#byNamespace.get(namespace) ?? new Map<ObjectKey, Readonly<T>>();
    this.#byNamespace.set(namespace, inNamespace.set(key, obj));
  }

  /** A new uid under the same name is a delete and a create, not an update. */
  #replaced(key: ObjectKey, old: Readonly<T>, obj: Readonly<T>): void {
    if (old.metadata?.uid && old.metadata.uid !== obj.metadata?.uid) {
      this.#emit('delete', key, old);
      this.#emit('add', key, obj);
    } else {
      this.#emit('update', key, obj, old);
    }
  }

  #emit(type: InformerEvent<T>['type'], key: ObjectKey, object: Readonly<T>, oldObject?: Readonly<T>): void {
    const { namespace, name } = splitKey(key);
    const event = (
      type === 'update'
        ? { type, key, namespace, name, object, oldObject }
        : { type, key, namespace, name, object }
    ) as InformerEvent<T>;
    for (const handler of this.#handlers) {
      try {
        handler(event);
      } catch (err) {
        this.#log.error({ err, key, type }, 'informer event handler threw');
      }
    }
  }
}

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/** Drops the fields nothing here reads from a freshly parsed object (see the class comment). */
function trim<O extends KubernetesObject>(obj: O): O {
  const metadata = obj.metadata;
  if (metadata) {
    delete metadata.managedFields;
    if (metadata.annotations && LAST_APPLIED in metadata.annotations) {
      delete metadata.annotations[LAST_APPLIED];
    }
  }
  return obj;
}

/**
 * The same object at the same generation has the same spec: the cached version's spec object is kept, so
 * what readers keep per spec object (a parse, a projection) outlives the status writes that replace the
 * object several times per change of what it asks for. Kinds without a generation keep nothing.
 */
function keepSpec<O extends KubernetesObject>(obj: O, cached: Readonly<O> | undefined): O {
  const { uid, generation } = obj.metadata ?? {};
  if (generation === undefined || !cached) return obj;
  if (cached.metadata?.uid !== uid || cached.metadata?.generation !== generation) return obj;
  (obj as { spec?: unknown }).spec = (cached as { spec?: unknown }).spec;
  return obj;
}

function deepFreeze<O>(value: O): O {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
