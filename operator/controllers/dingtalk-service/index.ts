import { isDeepStrictEqual } from 'node:util';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { ComponentFactory } from '../../manager/context.ts';
import {
  Controller,
  type EventFilter,
  type EventMapper,
  specOrMetadataChanged,
} from '../../runtime/controller.ts';
import { createReconciler } from './reconciler.ts';
import { referencedConfigMaps, referencedSecrets } from './references.ts';

/**
 * The DingTalkService controller: reconciles a service when its spec or annotations change, when a
 * Secret or ConfigMap it refers to appears, changes or goes away, and every --revalidate-interval.
 */
export const dingTalkServiceComponents: ComponentFactory = (ctx) => {
  const services = ctx.caches.services;
  const controller = new Controller({
    name: 'dingtalkservice',
    reconcile: createReconciler(ctx),
    logger: ctx.logger,
    workers: ctx.config.workers,
    metrics: ctx.metrics,
  });

  // One informer per watched namespace (or one for all), so map through the cache rather than one informer.
  const referencing =
    <T extends KubernetesObject>(
      references: (service: { spec?: unknown }) => ReadonlySet<string>,
    ): EventMapper<T> =>
    (event) =>
      services
        .list(event.namespace)
        .filter((service) => references(service).has(event.name))
        .map((service) => `${service.metadata?.namespace}/${service.metadata?.name}`);

  for (const informer of services.informers) controller.watch(informer, { filter: specOrMetadataChanged });
  for (const informer of ctx.caches.secrets.informers) {
    controller.watch(informer, { map: referencing(referencedSecrets), filter: dataChanged });
  }
  for (const informer of ctx.caches.configMaps.informers) {
    controller.watch(informer, { map: referencing(referencedConfigMaps), filter: dataChanged });
  }
  // Dispatch holding or releasing a target's alarms changes the service's conditions.
  ctx.held.onChange((namespace, service) => controller.enqueue(`${namespace}/${service}`));
  // A Stream connection opening or closing changes StreamConnected.
  ctx.streams?.onChange((namespace, service) => controller.enqueue(`${namespace}/${service}`));
  // A quota bucket at risk, spent, or within its quota again (a new month) changes them too.
  ctx.quota.onChange((namespace, service) => controller.enqueue(`${namespace}/${service}`));
  return [controller];
};

/** Secrets and ConfigMaps matter for their data only; label or annotation edits change nothing here. */
const dataChanged: EventFilter<KubernetesObject & { data?: unknown }> = (event) =>
  event.type !== 'update' || !isDeepStrictEqual(event.oldObject.data, event.object.data);
