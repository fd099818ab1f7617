import { type AlarmRule, durationToMilliseconds, parseAlarmRule } from '../api/index.ts';
import type { CustomObject } from '../manager/context.ts';
import { type CompiledTemplates, compileTemplates } from './templates.ts';
import { isValidTimeZone } from './time-windows.ts';

/** Timers of one rule's grouping, in milliseconds. */
export interface GroupTiming {
  groupWaitMs: number;
  groupIntervalMs: number;
  repeatIntervalMs: number;
  sendResolved: boolean;
}

/** A rule ready for dispatch: validated spec, parsed templates, grouping timers. */
export interface CompiledRule {
  /** namespace/name */
  key: string;
  namespace: string;
  name: string;
  rule: AlarmRule;
  templates: CompiledTemplates;
  timing: GroupTiming;
  timeZoneValid: boolean;
}

export type RuleCompilation = { ok: true; rule: CompiledRule } | { ok: false; error: Error };

/**
 * Parses and compiles rules once per generation, so the dispatcher and the AlarmRule controller (which
 * both import this domain module) see the same interpretation of a rule and a storm of alarms does not
 * re-parse templates.
 */
export class RuleBook {
  readonly #compiled = new Map<string, { version: string; result: RuleCompilation }>();

  compile(raw: Readonly<CustomObject>): RuleCompilation {
    const { namespace = '', name = '', uid = '', generation } = raw.metadata ?? {};
    const key = `${namespace}/${name}`;
    const version = `${uid}:${generation}`;
    const cached = this.#compiled.get(key);
    if (cached?.version === version) return cached.result;
    const result = compileRule(raw);
    this.#compiled.set(key, { version, result });
    return result;
  }

  forget(key: string): void {
    this.#compiled.delete(key);
  }
}

function compileRule(raw: Readonly<CustomObject>): RuleCompilation {
  let rule: AlarmRule;
  try {
    rule = parseAlarmRule(raw);
  } catch (err) {
    return { ok: false, error: err as Error };
  }
  const { namespace = '', name = '' } = rule.metadata;
  const { grouping } = rule.spec;
  return {
    ok: true,
    rule: {
      key: `${namespace}/${name}`,
      namespace,
      name,
      rule,
      templates: compileTemplates(rule.spec),
      timing: {
        groupWaitMs: durationToMilliseconds(grouping.groupWait),
        groupIntervalMs: Math.max(1, durationToMilliseconds(grouping.groupInterval)),
        repeatIntervalMs: Math.max(1, durationToMilliseconds(grouping.repeatInterval)),
        sendResolved: grouping.sendResolved,
      },
      timeZoneValid: isValidTimeZone(rule.spec.timeWindows?.timeZone ?? 'UTC'),
    },
  };
}
