import { describe, expect, it } from 'vitest';
import { Duration, durationToMilliseconds } from './duration.ts';

describe('Duration', () => {
  it.each(['30s', '5m', '4h', '1h30m', '2d', '1w', '250ms', '1h0m5s'])('accepts %s', (value) => {
    expect(Duration.safeParse(value).success).toBe(true);
  });

  it.each(['', '5', 'm', '5 m', '5min', '1.5h', '30m1h', '-5s', 'PT5M'])('rejects %j', (value) => {
    expect(Duration.safeParse(value).success).toBe(false);
  });

  it('converts to milliseconds', () => {
    expect(durationToMilliseconds('30s')).toBe(30_000);
    expect(durationToMilliseconds('1h30m')).toBe(5_400_000);
    expect(durationToMilliseconds('1d250ms')).toBe(86_400_250);
    expect(durationToMilliseconds('1w')).toBe(604_800_000);
  });
});
