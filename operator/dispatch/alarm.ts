import { createHash } from 'node:crypto';
import type { AlarmEvent, AlarmEventSpec } from '../api/index.ts';

/** One AlarmEvent as the dispatcher works with it: validated spec plus identity. */
export interface Alarm {
  /** namespace/name, the informer key. */
  key: string;
  uid: string;
  namespace: string;
  name: string;
  spec: AlarmEventSpec;
  /** Identity across occurrences: spec.fingerprint, else derived from labels. */
  fingerprint: string;
  /** spec.startsAt, else the creation time. */
  startsAt: string;
  createdAt: number;
}

export function toAlarm(event: AlarmEvent): Alarm {
  const { namespace = '', name = '', uid = '' } = event.metadata;
  const created = (event.metadata as { creationTimestamp?: string | Date }).creationTimestamp;
  const createdAt = created ? new Date(created).getTime() : Date.now();
  return {
    key: `${namespace}/${name}`,
    uid,
    namespace,
    name,
    spec: effectiveSpec(event),
    fingerprint: event.spec.fingerprint ?? fingerprintOf(event.spec, name),
    startsAt: event.spec.startsAt ?? new Date(createdAt).toISOString(),
    createdAt,
  };
}

/** True when a person resolved the firing alarm (status.acknowledgement), not its source. */
export function resolvedByPerson(event: Pick<AlarmEvent, 'spec' | 'status'>): boolean {
  return event.spec.state === 'firing' && event.status?.acknowledgement?.action === 'Resolved';
}

/**
 * A person's Resolve counts as the source's resolve would: the alarm is resolved from then on (its
 * resolved notification follows sendResolved), while the spec stays the source's to write.
 */
function effectiveSpec(event: AlarmEvent): AlarmEventSpec {
  if (!resolvedByPerson(event)) return event.spec;
  return { ...event.spec, state: 'resolved', endsAt: event.status?.acknowledgement?.at };
}

/**
 * Alertmanager's notion of "the same alarm": equal label sets. An alarm without labels has nothing to be
 * identified by, so it stands alone (its own object name).
 */
export function fingerprintOf(spec: Pick<AlarmEventSpec, 'labels'>, name: string): string {
  const labels = Object.entries(spec.labels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const identity = labels.length > 0 ? JSON.stringify(labels) : `object:${name}`;
  return createHash('sha256').update(identity).digest('hex').slice(0, 16);
}

/** The value a groupBy key selects: a label, or the spec's severity/source when no label has that name. */
export function groupValue(alarm: Alarm, key: string): string {
  const label = alarm.spec.labels?.[key];
  if (label !== undefined) return label;
  if (key === 'severity') return alarm.spec.severity;
  if (key === 'source') return alarm.spec.source ?? '';
  return '';
}

/** The labels that name an aggregation group: groupBy keys and their values; '...' groups by identity. */
export function groupLabelsOf(alarm: Alarm, groupBy: readonly string[] | undefined): Record<string, string> {
  if (groupBy?.includes('...')) return { ...alarm.spec.labels, fingerprint: alarm.fingerprint };
  return Object.fromEntries((groupBy ?? []).map((key) => [key, groupValue(alarm, key)]));
}
