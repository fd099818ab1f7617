import { alarmRuleComponents } from './controllers/alarm-rule/index.ts';
import { dingTalkServiceComponents } from './controllers/dingtalk-service/index.ts';
import { dispatchComponents } from './dispatch/index.ts';
import type { ComponentFactory } from './manager/context.ts';

/** Every feature the leader runs; each entry builds its controllers from the shared context. */
export const componentFactories: ComponentFactory[] = [
  dingTalkServiceComponents,
  alarmRuleComponents,
  dispatchComponents(),
];
