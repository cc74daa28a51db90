import { IANAZone } from 'luxon';
import { WEEKDAYS, type Calendar } from '../playbook/schema';
import { compileHolidays, type HolidayLookup } from './holidays';
import { cachedLocalDay } from './offset-cache';
import { wallToInstant, weekdayOf, type DayNumber } from './wall';

/** Minutes after local midnight; `end` runs past 1440 for overnight shifts. */
interface WallInterval {
  readonly start: number;
  readonly end: number;
}

/** Staffed spans of one local date as [start, end) instant pairs, sorted, merged, clipped to that date. */
export type DaySpans = readonly (readonly [number, number])[];

/**
 * A calendar prepared for repeated queries. Treat it as opaque: build it with compileCalendar and pass it to
 * the clock functions.
 */
export interface CompiledCalendar {
  readonly id: string;
  readonly timeZone: string;
  /** @internal the local date of an instant in the calendar's zone. */
  readonly dayOf: (at: number) => DayNumber;
  /** @internal staffed spans of a local date, memoised. */
  readonly spansOf: (day: DayNumber) => DaySpans;
  /** @internal the calendar is staffed around the clock and no holiday can close it. */
  readonly neverCloses: boolean;
}

const DAY_MINUTES = 1440;
// Bounded so a long-running service that touches many dates does not grow without limit.
const SPAN_CACHE_DAYS = 4096;

function minutesOf(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number) as [number, number];
  return h * 60 + m;
}

function weeklyTable(cal: Calendar): WallInterval[][] {
  const hours = cal.hours;
  if (hours === '24/7') return WEEKDAYS.map(() => [{ start: 0, end: DAY_MINUTES }]);
  return WEEKDAYS.map((d) =>
    hours[d].map(({ start, end }) => {
      const s = minutesOf(start);
      const e = minutesOf(end);
      // end <= start is the schema's overnight shift (equal means a full 24 hours from `start`).
      return { start: s, end: e <= s ? e + DAY_MINUTES : e };
    }),
  );
}

function coversWholeDay(intervals: WallInterval[]): boolean {
  let reach = 0;
  for (const i of [...intervals].sort((a, b) => a.start - b.start)) {
    if (i.start > reach) return false;
    reach = Math.max(reach, i.end);
  }
  return reach >= DAY_MINUTES;
}

export function compileCalendar(cal: Calendar): CompiledCalendar {
  const zone = IANAZone.create(cal.timeZone);
  if (!zone.isValid) throw new Error(`calendar "${cal.id}": unknown time zone "${cal.timeZone}"`);
  const table = weeklyTable(cal);
  const holidays = compileHolidays(cal);
  const cache = new Map<DayNumber, DaySpans>();

  const spansOf = (day: DayNumber): DaySpans => {
    let spans = cache.get(day);
    if (!spans) {
      spans = computeDaySpans(zone, table, holidays, day);
      if (cache.size >= SPAN_CACHE_DAYS) cache.delete(cache.keys().next().value!);
      cache.set(day, spans);
    }
    return spans;
  };

  return {
    id: cal.id,
    timeZone: cal.timeZone,
    dayOf: cachedLocalDay(zone),
    spansOf,
    neverCloses: holidays.none && table.every(coversWholeDay),
  };
}

/**
 * Every interval that can reach into `day` (its own and the previous day's, for overnight shifts) is turned
 * into real instants first and only then clipped to the day, so DST handling depends only on the interval's
 * own endpoints and the holiday rule applies per local date.
 */
function computeDaySpans(zone: IANAZone, table: WallInterval[][], holidays: HolidayLookup, day: DayNumber): DaySpans {
  if (holidays.isHoliday(day)) return [];
  const dayStart = wallToInstant(zone, day, 0);
  const dayEnd = wallToInstant(zone, day + 1, 0);
  const pieces: [number, number][] = [];
  for (const base of [day - 1, day]) {
    for (const { start, end } of table[weekdayOf(base)]!) {
      const s = Math.max(wallToInstant(zone, base, start), dayStart);
      const e = Math.min(wallToInstant(zone, base, end), dayEnd);
      if (e > s) pieces.push([s, e]);
    }
  }
  pieces.sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const p of pieces) {
    const last = merged[merged.length - 1];
    if (last && p[0] <= last[1]) last[1] = Math.max(last[1], p[1]);
    else merged.push(p);
  }
  return merged;
}
