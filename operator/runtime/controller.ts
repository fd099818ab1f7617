import { randomUUID } from 'node:crypto';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { TerminalError } from '../errors.ts';
import type { Informer, InformerEvent, ObjectKey } from './informer.ts';
import { objectKey, splitKey } from './informer.ts';
import type { OperatorMetrics } from './metrics.ts';
import { WorkQueue, type WorkQueueOptions } from './workqueue.ts';

/**
 * Wires informers to a work queue and a reconcile function, controller-runtime style:
 * events become keys, keys are de-duplicated and serialised by the queue, workers start only after
 * every watched cache has synced, and the reconcile result decides what happens next:
 * - resolves → forget the key's failures; `requeueAfter` schedules the next periodic run;
 * - throws TerminalError → no retry (the spec must change first);
 * - throws anything else → retry with per-key exponential backoff.
 */

export interface ReconcileResult {
  /** Reconcile this key again after this many milliseconds (periodic re-validation). */
  requeueAfter?: number;
}

export interface ReconcileContext {
  key: ObjectKey;
  namespace: string;
  name: string;
  /** Aborts when the controller shuts down past its grace period, or leadership is lost. */
  signal: AbortSignal;
  /** Carries controller, namespace, name and reconcileId. */
  log: Logger;
  /** Consecutive failures of this key before this attempt. */
  retries: number;
}

export type Reconciler = (key: ObjectKey, ctx: ReconcileContext) => Promise<ReconcileResult | undefined>;

/** Turns an event of a watched kind into the primary keys to reconcile. */
export type EventMapper<T> = (event: InformerEvent<T>) => Iterable<ObjectKey>;

/** Decides whether an event is worth a reconcile at all. */
export type EventFilter<T> = (event: InformerEvent<T>) => boolean;

export interface ControllerOptions {
  name: string;
  reconcile: Reconciler;
  logger: Logger;
  workers?: number;
  metrics?: OperatorMetrics;
  queue?: WorkQueueOptions;
}

/** What a controller watches: an Informer, or anything that emits its events and lists what it holds. */
export type EventSource<T extends KubernetesObject> = Pick<Informer<T>, 'onEvent' | 'list' | 'waitForSync'>;

export class Controller {
  readonly name: string;
  readonly queue: WorkQueue;
  readonly #options: ControllerOptions;
  readonly #log: Logger;
  readonly #informers: EventSource<KubernetesObject>[] = [];
  readonly #unsubscribe: Array<() => void> = [];
  #started = false;

  constructor(options: ControllerOptions) {
    this.#options = options;
    this.name = options.name;
    this.queue = new WorkQueue(options.queue);
    this.#log = options.logger.child({ controller: options.name });
    options.metrics?.observeQueueDepth(options.name, () => this.queue.depth);
  }

  /**
   * Reconciles the objects of `informer` itself (the primary kind), or, with `map`, the primary keys
   * that `map` derives from events of a secondary kind.
   */
  watch<T extends KubernetesObject>(
    informer: EventSource<T>,
    { map, filter }: { map?: EventMapper<T>; filter?: EventFilter<T> } = {},
  ): this {
    this.#informers.push(informer as unknown as EventSource<KubernetesObject>);
    const handle = (event: InformerEvent<T>) => {
      if (filter && !filter(event)) return;
      for (const key of map ? map(event) : [event.key]) this.queue.add(key);
    };
    this.#unsubscribe.push(informer.onEvent(handle));
    // Caches start before a replica leads, so objects listed before this subscription would never be
    // seen; like client-go's AddEventHandler, replay what the cache already holds as adds.
    for (const object of informer.list()) {
      const { namespace, name } = splitKey(objectKey(object));
      handle({ type: 'add', key: objectKey(object), namespace, name, object });
    }
    return this;
  }

  enqueue(key: ObjectKey): void {
    this.queue.add(key);
  }

  /** Waits for every watched informer to sync, then starts the workers. Informers are started elsewhere. */
  async start(signal?: AbortSignal): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    await Promise.all(this.#informers.map((informer) => informer.waitForSync(signal)));
    const workers = this.#options.workers ?? 1;
    this.#log.info({ workers }, 'caches synced; starting workers');
    this.queue.run(workers, (key, workerSignal) => this.#process(key, workerSignal));
  }

  /** Stops taking events and gives running reconciles `graceMs` before aborting them. */
  async stop(graceMs: number): Promise<void> {
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    await this.queue.shutdown(graceMs);
  }

  async #process(key: ObjectKey, signal: AbortSignal): Promise<void> {
    const { namespace, name } = splitKey(key);
    const reconcileId = randomUUID().slice(0, 8);
    const log = this.#log.child({ namespace, name, reconcileId });
    const retries = this.queue.retries(key);
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    const metrics = this.#options.metrics;
    try {
      const result = await this.#options.reconcile(key, { key, namespace, name, signal, log, retries });
      this.queue.forget(key);
      if (result?.requeueAfter !== undefined) this.queue.addAfter(key, result.requeueAfter);
      metrics?.recordReconcile(
        this.name,
        result?.requeueAfter === undefined ? 'success' : 'requeue',
        seconds(),
      );
    } catch (err) {
      if (err instanceof TerminalError) {
        this.queue.forget(key);
        metrics?.recordReconcile(this.name, 'terminal', seconds());
        log.warn({ err, reason: err.reason }, 'reconcile failed terminally; waiting for a change');
        return;
      }
      metrics?.recordReconcile(this.name, 'error', seconds());
      if (signal.aborted) return;
      this.queue.addRateLimited(key);
      log.warn({ err, retries: retries + 1 }, 'reconcile failed; will retry');
    }
  }
}

/** Filter: skip updates that change neither generation nor labels/annotations (status-only writes). */
export function specOrMetadataChanged<T extends KubernetesObject>(event: InformerEvent<T>): boolean {
  if (event.type !== 'update') return true;
  const before = event.oldObject.metadata;
  const after = event.object.metadata;
  return (
    before?.generation !== after?.generation ||
    JSON.stringify(before?.labels ?? {}) !== JSON.stringify(after?.labels ?? {}) ||
    JSON.stringify(before?.annotations ?? {}) !== JSON.stringify(after?.annotations ?? {})
  );
}

/**
 * Mapper for a secondary kind referenced by name from primaries in the same namespace, e.g. Secrets:
 * an event for Secret `ns/s` yields every primary in `ns` for which `references(primary, 's')` holds.
 */
export function referencingPrimaries<P extends KubernetesObject, S extends KubernetesObject>(
  primaries: Informer<P>,
  references: (primary: Readonly<P>, name: string) => boolean,
): EventMapper<S> {
  return (event) =>
    primaries
      .list(event.namespace)
      .filter((primary) => references(primary, event.name))
      .map((primary) => `${primary.metadata?.namespace}/${primary.metadata?.name}`);
}

/** Mapper for owned children: the key of the controlling owner of the given kind. */
export function controllingOwner<S extends KubernetesObject>(ownerKind: string): EventMapper<S> {
  return (event) => {
    const owner = event.object.metadata?.ownerReferences?.find(
      (ref) => ref.controller && ref.kind === ownerKind,
    );
    return owner ? [event.namespace ? `${event.namespace}/${owner.name}` : owner.name] : [];
  };
}
