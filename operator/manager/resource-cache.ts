import type { KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { Informer, type InformerOptions, type ObjectKey } from '../runtime/informer.ts';
import type { KubeHttp } from '../runtime/kube-http.ts';
import { collectionPath } from '../runtime/kube-path.ts';

export interface ResourceType {
  group: string;
  version: string;
  plural: string;
}

/** How a kind is cached: its list page size and what of each object is kept (see InformerOptions). */
export type CacheOptions<T> = Pick<InformerOptions<T>, 'pageSize' | 'transform'>;

/**
 * One kind's cache over the namespaces the operator watches: a single cluster-wide informer, or one
 * informer per namespace when --namespaces narrows the scope (RBAC then only grants those).
 */
export class ResourceCache<T extends KubernetesObject> {
  readonly informers: Informer<T>[];
  readonly #byNamespace: Map<string, Informer<T>> | undefined;

  constructor(
    kube: KubeHttp,
    type: ResourceType,
    namespaces: readonly string[],
    logger: Logger,
    options: CacheOptions<T> = {},
  ) {
    const scopes = namespaces.length === 0 ? [undefined] : namespaces;
    this.informers = scopes.map(
      (namespace) =>
        new Informer<T>({ kube, path: collectionPath({ ...type, namespace }), logger, ...options }),
    );
    this.#byNamespace =
      namespaces.length === 0
        ? undefined
        : new Map(namespaces.map((ns, i) => [ns, this.informers[i] as Informer<T>]));
  }

  get(namespace: string, name: string): Readonly<T> | undefined {
    return this.#informerFor(namespace)?.get(namespace, name);
  }

  getByKey(key: ObjectKey): Readonly<T> | undefined {
    return this.informers.map((informer) => informer.getByKey(key)).find((obj) => obj !== undefined);
  }

  list(namespace?: string): Readonly<T>[] {
    if (namespace !== undefined) return this.#informerFor(namespace)?.list(namespace) ?? [];
    return this.informers.flatMap((informer) => informer.list());
  }

  hasSynced(): boolean {
    return this.informers.every((informer) => informer.hasSynced());
  }

  start(): void {
    for (const informer of this.informers) informer.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.informers.map((informer) => informer.stop()));
  }

  #informerFor(namespace: string): Informer<T> | undefined {
    return this.#byNamespace ? this.#byNamespace.get(namespace) : this.informers[0];
  }
}
