import { z } from 'zod';

// Prometheus/Alertmanager duration syntax (units in descending order, each at most once), e.g. 30s, 5m, 1h30m, 2d.
const DURATION = /^([0-9]+w)?([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?$/;
const UNIT_MS: Record<string, number> = {
  w: 604_800_000,
  d: 86_400_000,
  h: 3_600_000,
  m: 60_000,
  s: 1_000,
  ms: 1,
};

export const Duration = z
  .string()
  .min(2)
  .max(32)
  .regex(DURATION, 'must be a duration such as 30s, 5m, 4h or 1h30m');
export type Duration = z.output<typeof Duration>;

/** Milliseconds of a duration that matched {@link Duration}. */
export function durationToMilliseconds(duration: Duration): number {
  let total = 0;
  for (const [, amount, unit] of duration.matchAll(/([0-9]+)(ms|w|d|h|m|s)/g)) {
    total += Number(amount) * UNIT_MS[unit];
  }
  return total;
}
