/**
 * DingTalk's months. DingTalk is billed and counted in China Standard Time, so a month begins at
 * midnight in Asia/Shanghai by default (--quota-time-zone changes it). Everything here is computed from
 * times given, never from a timer, so a restart or a takeover agrees on which month a time falls in.
 */

export const DEFAULT_QUOTA_TIME_ZONE = 'Asia/Shanghai';

/** True when `zone` is an IANA time zone the runtime knows. */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function partsIn(
  ms: number,
  zone: string,
): { year: number; month: number; day: number; hour: number; minute: number; second: number } {
  let format = formatters.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(zone, format);
  }
  const parts = Object.fromEntries(
    format.formatToParts(new Date(ms)).map((part) => [part.type, Number(part.value)]),
  ) as Record<string, number>;
  return {
    year: parts.year ?? 0,
    month: parts.month ?? 0,
    day: parts.day ?? 0,
    hour: parts.hour ?? 0,
    minute: parts.minute ?? 0,
    second: parts.second ?? 0,
  };
}

/**
 * The month last computed in each zone: nearly every call falls in it, and the calendar arithmetic costs
 * several formatter calls, which a busy quota ledger would otherwise pay on every message.
 */
const lastMonth = new Map<string, { label: string; start: number; end: number }>();

function monthAt(ms: number, zone: string): { label: string; start: number; end: number } {
  const last = lastMonth.get(zone);
  if (last && ms >= last.start && ms < last.end) return last;
  const { year, month } = partsIn(ms, zone);
  const found = {
    label: `${year}-${String(month).padStart(2, '0')}`,
    start: monthStart(year, month, zone),
    end: monthStart(year, month + 1, zone),
  };
  lastMonth.set(zone, found);
  return found;
}

/** The month `ms` falls in, in `zone`, as YYYY-MM. */
export function monthOf(ms: number, zone: string): string {
  return monthAt(ms, zone).label;
}

/** How far `zone`'s wall clock is ahead of UTC at `ms`. */
function offsetMs(ms: number, zone: string): number {
  const p = partsIn(ms, zone);
  const wall = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return wall - (ms - (((ms % 1000) + 1000) % 1000));
}

/** The instant `zone`'s wall clock shows midnight on the first of the month (month 1-12; 13 rolls over). */
function monthStart(year: number, month: number, zone: string): number {
  const wall = Date.UTC(year, month - 1, 1);
  // Two rounds settle an offset that changes around the instant (daylight saving time).
  let ms = wall - offsetMs(wall, zone);
  ms = wall - offsetMs(ms, zone);
  return ms;
}

/** Where the month that `ms` falls in begins and ends (the next month's start), in `zone`. */
export function monthBounds(ms: number, zone: string): { start: number; end: number } {
  const { start, end } = monthAt(ms, zone);
  return { start, end };
}
