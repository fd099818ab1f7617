import type { ComponentFactory } from '../manager/context.ts';
import { AckAnnotations } from './ack-annotations.ts';
import { CardUpdates } from './card-updates.ts';
import { Dispatcher, type DispatcherOptions } from './dispatcher.ts';
import { TtlSweeper } from './ttl-sweeper.ts';

export type { DispatcherOptions } from './dispatcher.ts';

/**
 * The dispatch pipeline, the TTL sweeper of finished AlarmEvents, acknowledgement by annotation and the
 * cards' updates when an acknowledgement changes.
 */
export function dispatchComponents(options: DispatcherOptions = {}): ComponentFactory {
  return (ctx) => [
    new Dispatcher(ctx, options),
    new TtlSweeper(ctx),
    new AckAnnotations(ctx),
    new CardUpdates(ctx),
  ];
}
