import { dispatchComponents } from '../dispatch/index.ts';
import type { ComponentFactory } from '../manager/context.ts';
import { alarmRuleComponents } from './alarm-rule/index.ts';
import { dingTalkServiceComponents } from './dingtalk-service/index.ts';

/** Every feature the leader runs; each entry builds its controllers from the shared context. */
export const componentFactories: ComponentFactory[] = [
  dingTalkServiceComponents,
  alarmRuleComponents,
  dispatchComponents(),
];
