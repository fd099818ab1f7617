import type { TimeWindow, TimeWindows } from '../api/index.ts';

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'] as const;
type Day = (typeof DAYS)[number];

export type WindowVerdict = 'Send' | 'Muted' | 'OutsideActiveWindow';

/** One formatter per zone of the time-zone database, which bounds this map. */
const byZone = new Map<string, Intl.DateTimeFormat>();
/**
 * The formatter of each spelling met (`asia/shanghai` and `Asia/Shanghai` are one zone). Rules of any
 * namespace choose the spelling, so only the most recent ones are kept.
 */
const bySpelling = new Map<string, Intl.DateTimeFormat>();
const MAX_SPELLINGS = 1_000;

/** Whether Intl knows the IANA zone. */
export function isValidTimeZone(timeZone: string): boolean {
  try {
    formatterFor(timeZone);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether the rule may notify at `now`: mute windows win over active ones. An unknown zone (the rule
 * controller reports it, and such rules match nothing new) is read as UTC, so a group timer of a rule
 * edited to a bad zone still flushes instead of throwing.
 */
export function windowVerdict(windows: TimeWindows | undefined, now: Date): WindowVerdict {
  if (!windows) return 'Send';
  const local = localTime(now, isValidTimeZone(windows.timeZone) ? windows.timeZone : 'UTC');
  if ((windows.mute ?? []).some((w) => inWindow(w, local))) return 'Muted';
  if (windows.active && !windows.active.some((w) => inWindow(w, local))) return 'OutsideActiveWindow';
  return 'Send';
}

interface LocalTime {
  day: Day;
  previousDay: Day;
  minutes: number;
}

function localTime(now: Date, timeZone: string): LocalTime {
  const parts = Object.fromEntries(
    formatterFor(timeZone)
      .formatToParts(now)
      .map((p) => [p.type, p.value]),
  );
  const dayIndex = DAYS.indexOf(parts.weekday as Day);
  const hour = Number(parts.hour) % 24;
  return {
    day: DAYS[dayIndex] as Day,
    previousDay: DAYS[(dayIndex + 6) % 7] as Day,
    minutes: hour * 60 + Number(parts.minute),
  };
}

function minutesOf(hhmm: string): number {
  return Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
}

/** A window whose end is before its start runs past midnight; its days name the day it starts. */
export function inWindow(window: TimeWindow, local: LocalTime): boolean {
  const start = minutesOf(window.start);
  const end = minutesOf(window.end);
  const on = (day: Day) => window.days === undefined || window.days.includes(day);
  if (start < end) return on(local.day) && local.minutes >= start && local.minutes < end;
  return (on(local.day) && local.minutes >= start) || (on(local.previousDay) && local.minutes < end);
}

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  const known = bySpelling.get(timeZone);
  if (known) return known;
  const made = new Intl.DateTimeFormat('en-US', {
    timeZone,
    weekday: 'long',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  });
  const zone = made.resolvedOptions().timeZone;
  const formatter = byZone.get(zone) ?? made;
  byZone.set(zone, formatter);
  if (bySpelling.size >= MAX_SPELLINGS) bySpelling.delete(bySpelling.keys().next().value as string);
  bySpelling.set(timeZone, formatter);
  return formatter;
}

/** How many formatters and spellings are kept (for the bound's test). */
export function timeZoneCacheSize(): { zones: number; spellings: number } {
  return { zones: byZone.size, spellings: bySpelling.size };
}
