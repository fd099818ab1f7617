import { type AlarmEventSpec, SEVERITIES, type Severity } from '../api/index.ts';
import { oneLine } from './untrusted.ts';

/** What templates are given of an alarm (dispatch's Alarm is one). */
export interface ScopedAlarm {
  name: string;
  namespace: string;
  spec: AlarmEventSpec;
  startsAt: string;
  fingerprint: string;
}

/** What templates are given of a notification (dispatch's Notification is one). */
export interface ScopedNotification {
  alarms: readonly ScopedAlarm[];
  groupLabels: Readonly<Record<string, string>>;
  repeat: boolean;
  rule: { namespace: string; name: string; description?: string };
  target: { service: string };
}

const oneLineValues = (map: Readonly<Record<string, string>> | undefined) =>
  Object.fromEntries(Object.entries(map ?? {}).map(([key, value]) => [key, oneLine(value)]));

/**
 * What templates see of an alarm. Every field but the message is on one line; in markdown bodies what
 * templates output is escaped (templates.ts), so alarm content cannot add links, images or headings.
 */
function alarmScope(alarm: ScopedAlarm) {
  const { spec } = alarm;
  return {
    name: alarm.name,
    namespace: alarm.namespace,
    severity: spec.severity,
    title: oneLine(spec.title),
    message: spec.message ?? '',
    labels: oneLineValues(spec.labels),
    annotations: oneLineValues(spec.annotations),
    source: oneLine(spec.source ?? ''),
    state: spec.state,
    resolved: spec.state === 'resolved',
    startsAt: alarm.startsAt,
    endsAt: spec.endsAt ?? '',
    fingerprint: alarm.fingerprint,
  };
}

/** What a notification's templates see. */
export function templateScope(n: ScopedNotification) {
  const alarms = n.alarms.map(alarmScope);
  return {
    alarm: alarms[0],
    alarms,
    groupLabels: oneLineValues(n.groupLabels),
    repeat: n.repeat,
    rule: { name: n.rule.name, namespace: n.rule.namespace, description: n.rule.description ?? '' },
    service: { name: n.target.service },
  };
}

/**
 * A notification of ordinary size that a rule's templates are tried on when the rule is compiled: a
 * template that exceeds its budget on this is too expensive for any real use. 20 alarms, each with the
 * labels, annotations and message of a typical Alertmanager alert.
 */
export function sampleScope(namespace: string, name: string): object {
  const alarms: ScopedAlarm[] = Array.from({ length: 20 }, (_, i) => ({
    namespace,
    name: `sample-${i}`,
    spec: {
      severity: SEVERITIES[i % SEVERITIES.length] as Severity,
      title: `Sample alarm ${i}`,
      state: 'firing' as const,
      source: 'alertmanager',
      message: 'A sample message of a few lines.\n'.repeat(8),
      labels: Object.fromEntries(Array.from({ length: 8 }, (_, j) => [`label${j}`, `value-${i}-${j}`])),
      annotations: { summary: 'Sample summary', runbook_url: 'https://runbooks.example/sample' },
    },
    fingerprint: `sample-${i}`,
    startsAt: '2026-01-01T00:00:00Z',
  }));
  return templateScope({
    alarms,
    groupLabels: { label0: 'value-0-0' },
    repeat: false,
    rule: { namespace, name },
    target: { service: 'sample' },
  });
}
