import { describe, expect, it } from 'vitest';
import { isValidTimeZone, timeZoneCacheSize, windowVerdict } from './time-windows.ts';

// 2026-01-05 is a Monday; 23:30 UTC is 07:30 on Tuesday in Shanghai.
const mondayLateUtc = new Date('2026-01-05T23:30:00Z');

describe('windowVerdict', () => {
  it("reads windows in the rule's time zone", () => {
    const mute = [{ days: ['Tuesday' as const], start: '07:00', end: '08:00' }];
    expect(windowVerdict({ timeZone: 'Asia/Shanghai', mute }, mondayLateUtc)).toBe('Muted');
    expect(windowVerdict({ timeZone: 'UTC', mute }, mondayLateUtc)).toBe('Send');
  });

  it('runs a window whose end is before its start past midnight, on the days it starts', () => {
    const night = [{ days: ['Monday' as const], start: '22:00', end: '06:00' }];
    expect(windowVerdict({ timeZone: 'UTC', mute: night }, mondayLateUtc)).toBe('Muted');
    expect(windowVerdict({ timeZone: 'UTC', mute: night }, new Date('2026-01-06T05:59:00Z'))).toBe('Muted');
    expect(windowVerdict({ timeZone: 'UTC', mute: night }, new Date('2026-01-06T22:30:00Z'))).toBe('Send');
  });

  it('reports alarms outside every active window, and lets mute win over active', () => {
    const active = [{ start: '09:00', end: '18:00' }];
    expect(windowVerdict({ timeZone: 'UTC', active }, mondayLateUtc)).toBe('OutsideActiveWindow');
    const day = new Date('2026-01-05T10:00:00Z');
    expect(windowVerdict({ timeZone: 'UTC', active }, day)).toBe('Send');
    expect(windowVerdict({ timeZone: 'UTC', active, mute: [{ start: '00:00', end: '24:00' }] }, day)).toBe(
      'Muted',
    );
  });

  it('knows IANA zones from made-up ones', () => {
    expect(isValidTimeZone('Asia/Shanghai')).toBe(true);
    expect(isValidTimeZone('Mars/Olympus_Mons')).toBe(false);
  });
});

describe('windowVerdict with an unknown time zone', () => {
  it('reads the windows as UTC instead of throwing', () => {
    const mute = [{ days: ['Monday' as const], start: '23:00', end: '24:00' }];
    expect(windowVerdict({ timeZone: 'Asia/Beijing', mute }, mondayLateUtc)).toBe('Muted');
  });
});

describe('time-zone formatters', () => {
  it('stay bounded however many spellings of a zone rules use, and read every spelling alike', () => {
    const mute = [{ days: ['Tuesday' as const], start: '07:00', end: '08:00' }];
    // Every upper- and lower-case spelling of one zone: 2^12 names Intl accepts.
    const letters = 'asia/shanghai';
    for (let mask = 0; mask < 4096; mask++) {
      let bit = 0;
      const spelling = [...letters]
        .map((c) => (c === '/' ? c : (mask >> bit++) & 1 ? c.toUpperCase() : c))
        .join('');
      expect(windowVerdict({ timeZone: spelling, mute }, mondayLateUtc)).toBe('Muted');
    }
    const { zones, spellings } = timeZoneCacheSize();
    expect(spellings).toBeLessThanOrEqual(1_000);
    expect(zones).toBeLessThan(10);
  });
});
