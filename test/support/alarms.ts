import type { AlarmEventSpec } from '../../operator/api/index.ts';
import { type Alarm, fingerprintOf } from '../../operator/dispatch/alarm.ts';

/** An Alarm for unit tests: firing warning with the given labels unless told otherwise. */
export function alarm(name: string, spec: Partial<AlarmEventSpec> = {}, namespace = 'ns'): Alarm {
  const full: AlarmEventSpec = { severity: 'warning', title: name, state: 'firing', ...spec };
  return {
    key: `${namespace}/${name}`,
    uid: name,
    namespace,
    name,
    spec: full,
    fingerprint: full.fingerprint ?? fingerprintOf(full, name),
    startsAt: full.startsAt ?? '2026-01-01T00:00:00Z',
    createdAt: 0,
  };
}
