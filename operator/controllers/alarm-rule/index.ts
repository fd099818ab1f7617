import type { ComponentFactory, CustomObject } from '../../manager/context.ts';
import { RuleBook } from '../../rules/rule-book.ts';
import { Controller, specOrMetadataChanged } from '../../runtime/controller.ts';
import type { InformerEvent } from '../../runtime/informer.ts';
import { reconcileAlarmRule } from './reconcile.ts';

/**
 * The AlarmRule controller: validates rules and reports Ready. A change to a rule, or to a
 * DingTalkService it references, re-validates it; the dispatcher reads rules from the cache on every
 * alarm, so rule changes take effect without a restart.
 */
export const alarmRuleComponents: ComponentFactory = (ctx) => {
  const rules = new RuleBook();
  const controller = new Controller({
    name: 'alarmrule',
    logger: ctx.logger,
    metrics: ctx.metrics,
    workers: ctx.config.workers,
    reconcile: async (_key, { namespace, name, log }) => {
      await reconcileAlarmRule(ctx, rules, namespace, name, log);
      return undefined;
    },
  });
  const referencing = (event: InformerEvent<CustomObject>) =>
    ctx.caches.rules
      .list(event.namespace)
      .filter((rule) =>
        ((rule.spec as { services?: { name?: string }[] } | undefined)?.services ?? []).some(
          (s) => s.name === event.name,
        ),
      )
      .map((rule) => `${rule.metadata?.namespace}/${rule.metadata?.name}`);
  for (const informer of ctx.caches.rules.informers)
    controller.watch(informer, { filter: specOrMetadataChanged });
  for (const informer of ctx.caches.services.informers) {
    // Status changes matter too: the service controller reports targets it cannot resolve there.
    controller.watch(informer, { map: referencing });
  }
  return [controller];
};
