import { describe, expect, it } from 'vitest';
import { isTimeZone, monthBounds, monthOf } from './month.ts';

const SHANGHAI = 'Asia/Shanghai';

describe('DingTalk months', () => {
  it('turns at midnight in Shanghai, which is 16:00 UTC the day before', () => {
    expect(monthOf(Date.parse('2026-11-30T15:59:59Z'), SHANGHAI)).toBe('2026-11');
    expect(monthOf(Date.parse('2026-11-30T16:00:00Z'), SHANGHAI)).toBe('2026-12');
    expect(monthOf(Date.parse('2026-11-30T16:00:00Z'), 'UTC')).toBe('2026-11');
  });

  it('bounds a month by its first midnight and the next month', () => {
    const { start, end } = monthBounds(Date.parse('2026-12-06T08:00:00Z'), SHANGHAI);
    expect(new Date(start).toISOString()).toBe('2026-11-30T16:00:00.000Z');
    expect(new Date(end).toISOString()).toBe('2026-12-31T16:00:00.000Z');
  });

  it('rolls over the year', () => {
    const { end } = monthBounds(Date.parse('2026-12-31T15:00:00Z'), SHANGHAI);
    expect(new Date(end).toISOString()).toBe('2026-12-31T16:00:00.000Z');
    expect(monthOf(end, SHANGHAI)).toBe('2027-01');
  });

  it('follows daylight saving time in zones that have it', () => {
    // Berlin is UTC+2 on 1 October (summer time) and UTC+1 on 1 November.
    const { start, end } = monthBounds(Date.parse('2026-10-15T12:00:00Z'), 'Europe/Berlin');
    expect(new Date(start).toISOString()).toBe('2026-09-30T22:00:00.000Z');
    expect(new Date(end).toISOString()).toBe('2026-10-31T23:00:00.000Z');
  });

  it('answers alike for times given in any order around a month boundary', () => {
    const before = Date.parse('2027-01-31T15:59:59.999Z');
    const after = Date.parse('2027-01-31T16:00:00Z');
    for (const [ms, month] of [
      [after, '2027-02'],
      [before, '2027-01'],
      [after, '2027-02'],
      [Date.parse('2026-06-01T00:00:00Z'), '2026-06'],
      [before, '2027-01'],
    ] as const) {
      expect(monthOf(ms, SHANGHAI)).toBe(month);
      const { start, end } = monthBounds(ms, SHANGHAI);
      expect(ms >= start && ms < end).toBe(true);
      expect(monthOf(start, SHANGHAI)).toBe(month);
      expect(monthOf(end - 1, SHANGHAI)).toBe(month);
    }
  });

  it('knows which time zones exist', () => {
    expect(isTimeZone(SHANGHAI)).toBe(true);
    expect(isTimeZone('Mars/Olympus')).toBe(false);
  });
});
