import type { KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { toKubeApiError } from '../errors.ts';
import { ConcurrencyLimit } from '../runtime/concurrency.ts';
import type { Informer, InformerEvent, InformerHandler, ObjectKey } from '../runtime/informer.ts';
import { objectKey, specChanged } from '../runtime/informer.ts';
import type { KubeHttp } from '../runtime/kube-http.ts';
import { collectionPath, objectPath } from '../runtime/kube-path.ts';
import { Latch } from '../runtime/latch.ts';
import { MetadataWatch } from '../runtime/metadata-watch.ts';
import { type Clock, sleep, systemClock } from '../runtime/timers.ts';
import type { CustomObject } from './context.ts';

type Stored = KubernetesObject & { metadata?: { resourceVersion?: string; uid?: string } };

export interface ReferenceStoreOptions {
  kube: KubeHttp;
  /** Core kind, e.g. secrets or configmaps. */
  plural: string;
  /** Watched namespaces; empty: all. */
  namespaces: readonly string[];
  /**
   * The operator may read this kind only in namespaces that granted it (the chart's `secretAccess:
   * namespaces`): no cluster-wide watch, which would be forbidden; a namespace is watched once a read
   * there succeeded, and a read refused 403 is tried again later, not retried at once.
   */
  perNamespaceAccess?: boolean;
  /** With perNamespaceAccess: what grants the operator this kind in a namespace, for SecretAccessDenied. */
  accessGrant?: (namespace: string) => string;
  /** The objects that may refer to this kind, and the names one of them refers to (same namespace). */
  referrers: {
    informers: readonly Pick<Informer<CustomObject>, 'onEvent' | 'waitForSync'>[];
    list(): readonly Readonly<CustomObject>[];
  };
  referenced(referrer: Readonly<CustomObject>): ReadonlySet<string>;
  logger: Logger;
  /** The watches' and the reads' backoff. */
  clock?: Clock;
}

/**
 * GETs in flight at once. Every referenced object is read at start and again after each fresh watch
 * (a 410 among them): a thousand services' Secrets at once would open as many streams against the API
 * server's in-flight limit and queue behind the client's rate limit all together.
 */
export const READ_CONCURRENCY = 8;

/**
 * The Secrets (or ConfigMaps) that some DingTalkService refers to, and nothing else: each is read with
 * GET when a service starts referring to it (once the watch of its namespace is accepted) and again
 * whenever a metadata-only watch (MetadataWatch) reports a version other than the one read, and dropped when no service refers to it any more. So the operator's memory grows
 * with what the services use, not with the cluster's Secrets, and the data of the others never reaches
 * it. Emits informer-style add/update/delete events for the referenced objects, so controllers watch it
 * like an informer.
 */
export class ReferenceStore<T extends Stored> {
  readonly #options: ReferenceStoreOptions;
  readonly #log: Logger;
  /** By namespace; '' for the cluster-wide watch. */
  readonly #watches = new Map<string, MetadataWatch>();
  /** Keys whose last read the API server refused (403), with how many times in a row. */
  readonly #denied = new Map<ObjectKey, number>();
  #started = false;
  /** Referenced keys and how many referrers name each. */
  readonly #wanted = new Map<ObjectKey, number>();
  readonly #byReferrer = new Map<ObjectKey, Set<ObjectKey>>();
  /** What GET returned for each wanted key: the object, or null when it does not exist. */
  readonly #objects = new Map<ObjectKey, Readonly<T> | null>();
  readonly #reading = new Map<ObjectKey, Promise<void>>();
  /**
   * Keys whose read under way was asked for again: read once more when it ends, unless all that asked was
   * the watch reporting a version and the read found that version.
   */
  readonly #stale = new Map<ObjectKey, string | undefined>();
  readonly #handlers = new Set<InformerHandler<T>>();
  readonly #unsubscribe: Array<() => void> = [];
  readonly #synced = new Latch();
  readonly #stop = new AbortController();
  readonly #reads = new ConcurrencyLimit(READ_CONCURRENCY);
  readonly #clock: Clock;

  constructor(options: ReferenceStoreOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.logger.child({ references: options.plural });
    // With per-namespace access a watch starts once a read in its namespace succeeded: one up front would be
    // forbidden wherever no RoleBinding grants it yet, and the store would never sync.
    if (options.perNamespaceAccess) return;
    if (options.namespaces.length === 0) this.#watch(undefined);
    else for (const namespace of options.namespaces) this.#watch(namespace);
  }

  /** Starts (once) the metadata watch of a namespace, or the cluster-wide one. */
  #watch(namespace: string | undefined): void {
    const scope = namespace ?? '';
    if (this.#watches.has(scope)) return;
    const watch = new MetadataWatch({
      kube: this.#options.kube,
      path: collectionPath({ group: '', version: 'v1', plural: this.#options.plural, namespace }),
      logger: this.#options.logger,
      clock: this.#clock,
      onStart: () => this.#rereadScope(namespace),
      onEvent: ({ namespace: ns, name, resourceVersion }) => {
        const key = `${ns}/${name}`;
        if (!this.#wanted.has(key)) return;
        const held = this.#objects.get(key);
        if (held === undefined || held?.metadata?.resourceVersion !== resourceVersion)
          this.#read(key, resourceVersion);
      },
    });
    this.#watches.set(scope, watch);
    if (this.#started) watch.start();
  }

  /** This store, as the list of informers a controller or the dispatcher waits for and watches. */
  get informers(): readonly ReferenceStore<T>[] {
    return [this];
  }

  start(): void {
    this.#started = true;
    for (const watch of this.#watches.values()) watch.start();
    for (const informer of this.#options.referrers.informers) {
      this.#unsubscribe.push(
        informer.onEvent((event) => {
          // A status write changes no reference; the thousand at start would each recompute one.
          if (!specChanged(event)) return;
          this.#referrerChanged(event.key, event.type === 'delete' ? undefined : event.object);
        }),
      );
    }
    void this.#syncFirst();
  }

  async stop(): Promise<void> {
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    this.#stop.abort();
    await Promise.all([
      ...[...this.#watches.values()].map((watch) => watch.stop()),
      ...this.#reading.values(),
    ]);
  }

  hasSynced(): boolean {
    return this.#synced.isOpen;
  }

  waitForSync(signal?: AbortSignal): Promise<void> {
    return this.#synced.wait(signal);
  }

  onEvent(handler: InformerHandler<T>): () => void {
    this.#handlers.add(handler);
    return () => this.#handlers.delete(handler);
  }

  get(namespace: string, name: string): Readonly<T> | undefined {
    return this.#objects.get(`${namespace}/${name}`) ?? undefined;
  }

  /**
   * When the API server refused the operator the object's last read (403, no RBAC grant in its namespace):
   * what would grant it.
   */
  denied(namespace: string, name: string): string | undefined {
    if (!this.#denied.has(`${namespace}/${name}`)) return undefined;
    return this.#options.accessGrant?.(namespace) ?? 'an RBAC grant to read it';
  }

  /** Resolves once the named objects have been read (at once for those read before or not referred to). */
  async settled(namespace: string, names: Iterable<string>): Promise<void> {
    for (const name of names) {
      const key = `${namespace}/${name}`;
      while (this.#reading.has(key)) await this.#reading.get(key);
    }
  }

  /** The referenced objects that exist, or those of one namespace. */
  list(namespace?: string): Readonly<T>[] {
    const all = [...this.#objects.values()].filter((obj): obj is Readonly<T> => obj !== null);
    return namespace === undefined ? all : all.filter((obj) => obj.metadata?.namespace === namespace);
  }

  /** How many objects are held: the referenced ones that exist. */
  get size(): number {
    return this.list().length;
  }

  /** Synced once the referrers are, the watches are accepted and every referenced object was read once. */
  async #syncFirst(): Promise<void> {
    const signal = this.#stop.signal;
    try {
      await Promise.all(this.#options.referrers.informers.map((informer) => informer.waitForSync(signal)));
      for (const referrer of this.#options.referrers.list())
        this.#referrerChanged(objectKey(referrer), referrer);
      await Promise.all([...this.#watches.values()].map((watch) => watch.waitForEstablished(signal)));
      while (this.#reading.size > 0) await Promise.all(this.#reading.values());
    } catch {
      return;
    }
    this.#synced.open();
  }

  #referrerChanged(referrerKey: ObjectKey, referrer: Readonly<CustomObject> | undefined): void {
    const namespace = referrer?.metadata?.namespace ?? referrerKey.split('/')[0] ?? '';
    const next = new Set(
      referrer ? [...this.#options.referenced(referrer)].map((name) => `${namespace}/${name}`) : [],
    );
    const previous = this.#byReferrer.get(referrerKey) ?? new Set<ObjectKey>();
    if (next.size > 0) this.#byReferrer.set(referrerKey, next);
    else this.#byReferrer.delete(referrerKey);
    for (const key of next) {
      if (previous.has(key)) continue;
      const count = this.#wanted.get(key) ?? 0;
      this.#wanted.set(key, count + 1);
      if (count === 0) this.#read(key);
    }
    for (const key of previous) {
      if (next.has(key)) continue;
      const count = (this.#wanted.get(key) ?? 1) - 1;
      if (count > 0) {
        this.#wanted.set(key, count);
        continue;
      }
      this.#wanted.delete(key);
      this.#objects.delete(key);
      this.#denied.delete(key);
      if (this.#options.perNamespaceAccess) this.#unwatchIfUnused(key.split('/')[0] ?? '');
    }
  }

  /** With per-namespace access, a namespace none of whose objects is referenced any more is not watched. */
  #unwatchIfUnused(namespace: string): void {
    for (const key of this.#wanted.keys()) if (key.startsWith(`${namespace}/`)) return;
    const watch = this.#watches.get(namespace);
    if (!watch) return;
    this.#watches.delete(namespace);
    void watch.stop();
  }

  /** A fresh watch may have missed deletions: read every referenced object of the scope again. */
  #rereadScope(namespace: string | undefined): void {
    for (const key of this.#wanted.keys()) {
      if (namespace === undefined || key.startsWith(`${namespace}/`)) this.#read(key);
    }
  }

  /** `reported`: the version the watch reported, when that is why the key is read. */
  #read(key: ObjectKey, reported?: string): void {
    if (this.#awaitsWatch(key)) return;
    if (this.#reading.has(key)) {
      const unconditional = this.#stale.has(key) && this.#stale.get(key) === undefined;
      this.#stale.set(key, unconditional ? undefined : reported);
      return;
    }
    const reading = this.#readUntilDone(key).finally(() => {
      this.#reading.delete(key);
      if (!this.#stale.has(key)) return;
      const version = this.#stale.get(key);
      this.#stale.delete(key);
      if (!this.#wanted.has(key)) return;
      if (version !== undefined && this.#objects.get(key)?.metadata?.resourceVersion === version) return;
      this.#read(key);
    });
    this.#reading.set(key, reading);
  }

  /**
   * The watch that will report the key's changes has not been accepted yet. A read now could miss a deletion
   * made before the watch starts; its start reads every referenced object of its scope, this one included.
   */
  #awaitsWatch(key: ObjectKey): boolean {
    const watch = this.#watches.get(key.split('/')[0] ?? '') ?? this.#watches.get('');
    return watch !== undefined && !watch.established;
  }

  /** GETs the object, retrying with backoff while the API server fails (not when it says 404). */
  async #readUntilDone(key: ObjectKey): Promise<void> {
    const [namespace = '', name = ''] = key.split('/');
    const path = objectPath({ version: 'v1', plural: this.#options.plural, namespace, name });
    const signal = this.#stop.signal;
    for (let failures = 0; !signal.aborted; failures++) {
      try {
        // A slot per attempt, not across the backoff: a failing read leaves room for the others.
        const obj = deepFreeze(await this.#reads.run(() => this.#options.kube.get<T>(path, { signal })));
        this.#store(key, obj);
        return;
      } catch (err) {
        if (signal.aborted) return;
        const status = toKubeApiError(err)?.status;
        if (status === 404) {
          this.#store(key, null);
          return;
        }
        if (status === 403 && this.#options.perNamespaceAccess) {
          this.#refused(key);
          return;
        }
        this.#log.warn({ err, namespace, name }, 'reading a referenced object failed; retrying');
        await sleep(
          Math.min(1000 * 2 ** failures, 30_000) * (0.8 + 0.4 * Math.random()),
          signal,
          this.#clock,
        );
      }
    }
  }

  /**
   * A read refused 403 ends (so the service's reconcile goes on and says so), and is tried again after a
   * backoff up to 30 s, so a RoleBinding created later is noticed without a watch of that namespace.
   */
  #refused(key: ObjectKey): void {
    const times = (this.#denied.get(key) ?? 0) + 1;
    // What was read before the grant went is forgotten: the operator may no longer rely on it.
    const old = this.#objects.get(key);
    this.#objects.delete(key);
    if (old) {
      const [namespace = '', name = ''] = key.split('/');
      this.#emit({ type: 'delete', key, namespace, name, object: old });
    }
    this.#denied.set(key, times);
    this.#log.info({ key }, 'reading a referenced object was forbidden; trying again later');
    const delay = Math.min(1000 * 2 ** times, 30_000);
    sleep(delay, this.#stop.signal, this.#clock).then(
      () => {
        if (this.#denied.has(key) && this.#wanted.has(key)) this.#read(key);
      },
      () => undefined,
    );
  }

  #store(key: ObjectKey, obj: Readonly<T> | null): void {
    if (!this.#wanted.has(key)) return;
    if (this.#options.perNamespaceAccess) {
      // Read (or found missing) with the operator's rights: the namespace grants it, so watch it.
      this.#denied.delete(key);
      this.#watch(key.split('/')[0] ?? '');
    }
    const old = this.#objects.get(key) ?? null;
    this.#objects.set(key, obj);
    if (old?.metadata?.resourceVersion === obj?.metadata?.resourceVersion) return;
    const [namespace = '', name = ''] = key.split('/');
    if (obj && old && old.metadata?.uid === obj.metadata?.uid) {
      this.#emit({ type: 'update', key, namespace, name, object: obj, oldObject: old });
      return;
    }
    if (old) this.#emit({ type: 'delete', key, namespace, name, object: old });
    if (obj) this.#emit({ type: 'add', key, namespace, name, object: obj });
  }

  #emit(event: InformerEvent<T>): void {
    for (const handler of this.#handlers) {
      try {
        handler(event);
      } catch (err) {
        this.#log.error({ err, key: event.key }, 'reference event handler threw');
      }
    }
  }
}

function deepFreeze<O>(value: O): O {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
