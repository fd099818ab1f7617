import type { ComponentFactory } from '../manager/context.ts';
import { Dispatcher, type DispatcherOptions } from './dispatcher.ts';
import { TtlSweeper } from './ttl-sweeper.ts';

export type { DispatcherOptions } from './dispatcher.ts';

/** The dispatch pipeline and the TTL sweeper of finished AlarmEvents. */
export function dispatchComponents(options: DispatcherOptions = {}): ComponentFactory {
  return (ctx) => [new Dispatcher(ctx, options), new TtlSweeper(ctx)];
}
