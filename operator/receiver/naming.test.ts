import { describe, expect, it } from 'vitest';
import { alarmEventName, deriveFingerprint } from './naming.ts';
import { severityOf } from './severity.ts';

const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

describe('alarmEventName', () => {
  it('keeps a name-safe fingerprint readable and adds the start in epoch milliseconds', () => {
    expect(alarmEventName('3f2a9c1d7e6b5a40', '2025-05-01T08:00:00Z')).toBe(
      'fp-3f2a9c1d7e6b5a40-1746086400000',
    );
  });

  it('is the same for the same start written differently', () => {
    expect(alarmEventName('a', '2025-05-01T08:00:00.000000000Z')).toBe(
      alarmEventName('a', '2025-05-01T10:00:00+02:00'),
    );
  });

  it('hashes fingerprints that cannot appear in a name', () => {
    const names = ['Disk:Full', 'disk_full', 'DISK', '-x', 'x'.repeat(100)].map((fp) =>
      alarmEventName(fp, '2025-05-01T08:00:00Z'),
    );
    for (const name of names) expect(name).toMatch(/^fh-[0-9a-f]{24}-1746086400000$/);
    expect(new Set(names).size).toBe(names.length);
  });

  it('always yields a valid object name', () => {
    for (const fp of ['a', 'abc-def', 'Z', '.', '0001-01-01']) {
      const name = alarmEventName(fp, '0001-01-01T00:00:00Z');
      expect(name).toMatch(NAME);
      expect(name.length).toBeLessThanOrEqual(253);
    }
  });
});

describe('deriveFingerprint', () => {
  it('depends on the label set, not its order', () => {
    expect(deriveFingerprint({ a: '1', b: '2' }, 't1')).toBe(deriveFingerprint({ b: '2', a: '1' }, 't2'));
    expect(deriveFingerprint({ a: '1' }, 't')).not.toBe(deriveFingerprint({ a: '2' }, 't'));
  });

  it('tells unlabelled alarms apart by title and source', () => {
    expect(deriveFingerprint({}, 'backup late')).not.toBe(deriveFingerprint({}, 'disk full'));
    expect(deriveFingerprint({}, 'x', 'cron')).not.toBe(deriveFingerprint({}, 'x', 'ci'));
  });
});

describe('severityOf', () => {
  it('maps common spellings onto the three severities, unknown ones to warning', () => {
    expect(severityOf({ severity: 'critical' })).toBe('critical');
    expect(severityOf({ severity: 'Error' })).toBe('critical');
    expect(severityOf({ severity: 'page' })).toBe('critical');
    expect(severityOf({ severity: 'warn' })).toBe('warning');
    expect(severityOf({ priority: 'P4' })).toBe('info');
    expect(severityOf({ severity: 'none' })).toBe('info');
    expect(severityOf({ severity: 'whatever' })).toBe('warning');
    expect(severityOf({})).toBe('warning');
  });
});
