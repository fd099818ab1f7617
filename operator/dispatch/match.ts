import type { AlarmMatch, LabelSelector } from '../api/index.ts';
import type { Alarm } from './alarm.ts';

/**
 * Whether the rule (in `ruleNamespace`) applies to the alarm; every given criterion must hold. A rule sees
 * the alarms of its own namespace only: a namespace cannot subscribe to another's alarms.
 */
export function matchesRule(match: AlarmMatch, ruleNamespace: string, alarm: Alarm): boolean {
  if (alarm.namespace !== ruleNamespace) return false;
  if (match.severities && !match.severities.includes(alarm.spec.severity)) return false;
  if (match.sources && !match.sources.includes(alarm.spec.source ?? '')) return false;
  return match.labels === undefined || selectorMatches(match.labels, alarm.spec.labels ?? {});
}

/** metav1.LabelSelector semantics: matchLabels and every matchExpression must hold. */
export function selectorMatches(selector: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[key] !== value) return false;
  }
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, key);
    const value = labels[key];
    const holds =
      operator === 'In'
        ? has && values.includes(value as string)
        : operator === 'NotIn'
          ? !has || !values.includes(value as string)
          : operator === 'Exists'
            ? has
            : !has;
    if (!holds) return false;
  }
  return true;
}
