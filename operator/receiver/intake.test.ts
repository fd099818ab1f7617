import { describe, expect, it } from 'vitest';
import { intakeAlerts } from './intake.ts';

const limits = { maxBatch: 10, maxLabels: 8, maxLabelLength: 64 };

function alert(i: number) {
  return {
    status: 'firing',
    labels: { alertname: 'DiskFull', instance: `h${i}` },
    startsAt: '2026-05-01T08:00:00Z',
    fingerprint: `f${i}`,
  };
}

describe('intakeAlerts', () => {
  it('takes any number of alerts, unlike the native batch limit', () => {
    const body = { version: '4', alerts: Array.from({ length: 50 }, (_, i) => alert(i)) };
    expect(intakeAlerts('alertmanager', body, limits, new Date()).alarms).toHaveLength(50);
  });

  it('consumes the alert list as it reads it, so the raw alerts can be collected while specs are built', () => {
    const body = { version: '4', alerts: [alert(1), alert(2)] as unknown[] };
    intakeAlerts('alertmanager', body, limits, new Date());
    expect(body.alerts).toEqual([undefined, undefined]);
  });

  it('sets aside each invalid alert with its path and fingerprint, keeping the valid ones', () => {
    const body = { version: '4', alerts: [alert(1), { ...alert(2), startsAt: 'soon' }, alert(3)] };
    const { alarms, rejected } = intakeAlerts('alertmanager', body, limits, new Date());
    expect(alarms.map((a) => a.spec.fingerprint)).toEqual(['f1', 'f3']);
    expect(rejected).toEqual([
      {
        path: 'alerts[1]',
        fingerprint: 'f2',
        issues: [{ path: 'alerts[1].startsAt', message: expect.any(String) }],
      },
    ]);
  });

  it('only names the alerts already stored in the same state, without checking them again', () => {
    const body = { version: '4', alerts: [alert(1), { ...alert(2), status: 'resolved' }, alert(3)] };
    const stored = new Set(['fp-f1-1777622400000:firing', 'fp-f2-1777622400000:firing']);
    const { alarms, known } = intakeAlerts('alertmanager', body, limits, new Date(), (name, state) =>
      stored.has(`${name}:${state}`),
    );
    expect(known).toEqual([{ name: 'fp-f1-1777622400000', state: 'firing' }]);
    // Stored firing, now resolved: still to be written.
    expect(alarms.map((a) => a.name)).toEqual(['fp-f2-1777622400000', 'fp-f3-1777622400000']);
  });

  it("stores an alert whose annotations exceed the CRD's total without its longest ones", () => {
    const annotations = {
      summary: 'Disk almost full',
      runbook_url: 'https://runbooks.example/disk',
      ...Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`detail${i}`, 'x'.repeat(4000)])),
    };
    const body = { version: '4', alerts: [{ ...alert(1), annotations }] };
    const { alarms, rejected } = intakeAlerts('alertmanager', body, limits, new Date());
    expect(rejected).toEqual([]);
    expect(Object.keys(alarms[0]?.spec.annotations ?? {})).toEqual([
      'summary',
      'runbook_url',
      'detail0',
      'detail1',
      'detail2',
      'detail3',
    ]);
  });

  it('refuses a malformed envelope whole', () => {
    expect(() => intakeAlerts('alertmanager', { version: '3', alerts: [] }, limits, new Date())).toThrow(
      /version/,
    );
    expect(() => intakeAlerts('grafana', { alerts: 'none' }, limits, new Date())).toThrow(/alerts/);
  });
});
