import { IANAZone } from 'luxon';
import { WEEKDAYS, type Calendar } from '../playbook/schema';
import { compileHolidays, type HolidayLookup } from './holidays';
import { cachedLocalDay } from './offset-cache';
import { DAY, wallToInstant, weekdayOf, type DayNumber } from './wall';
import { DAY_MINUTES, wallTable, weeklyStaffedMinutes, type WallInterval } from './weekly';

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
  /**
   * @internal staffed ms of the 7 local dates from `day` when that week is plain (no holiday, one UTC offset
   * throughout), so long walks skip it without building its spans; undefined when it must be walked day by day.
   */
  readonly plainWeekMs: (day: DayNumber) => number | undefined;
}

// Bounded so a long-running service that touches many dates does not grow without limit.
const SPAN_CACHE_DAYS = 4096;

function weeklyTable(cal: Calendar): WallInterval[][] {
  return wallTable(
    cal.hours === '24/7' ? '24/7' : WEEKDAYS.map((d) => (cal.hours as Exclude<Calendar['hours'], '24/7'>)[d]),
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

  const weekMs = weeklyStaffedMinutes(table) * 60_000;
  const isPlainWeek = (day: DayNumber): boolean => {
    for (let d = day; d < day + 7; d++) if (holidays.isHoliday(d)) return false;
    // One offset from a day before the week to its end: every wall time in it then maps to exactly one instant
    // (no gap, no repeated hour), so its spans are the wall pattern shifted, and the week lasts 7 x 24 h.
    const start = wallToInstant(zone, day, 0);
    const offset = zone.offset(start - DAY);
    for (let k = 0; k <= 8; k++) if (zone.offset(start + k * DAY) !== offset) return false;
    return true;
  };
  // Memoised per date like the spans: the check reads the zone's offset a dozen times (luxon through Intl, a few
  // microseconds each), and every walk past its start date asks it once per date, so unmemoised it cost a
  // million-visit replay most of its time.
  const plainWeeks = new Map<DayNumber, boolean>();
  const plainWeekMs = (day: DayNumber): number | undefined => {
    let plain = plainWeeks.get(day);
    if (plain === undefined) {
      plain = isPlainWeek(day);
      if (plainWeeks.size >= SPAN_CACHE_DAYS) plainWeeks.delete(plainWeeks.keys().next().value!);
      plainWeeks.set(day, plain);
    }
    return plain ? weekMs : undefined;
  };

  return {
    id: cal.id,
    timeZone: cal.timeZone,
    dayOf: cachedLocalDay(zone),
    spansOf,
    neverCloses: holidays.none && table.every(coversWholeDay),
    plainWeekMs,
  };
}

/**
 * Every interval that can reach into `day` (its own and the previous day's, for overnight shifts) is turned
 * into real instants first and only then clipped to the day, so DST handling depends only on the interval's
 * own endpoints and the holiday rule applies per local date.
 */
function computeDaySpans(
  zone: IANAZone,
  table: WallInterval[][],
  holidays: HolidayLookup,
  day: DayNumber,
): DaySpans {
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
