import Holidays from 'date-holidays';
import type { z } from 'zod';
import type { Calendar, HolidaySet } from '../playbook/schema';
import { DAY, dayNumberOf, yearOf, type DayNumber } from './wall';

type HolidaySetConfig = z.output<typeof HolidaySet>;

/** Answers "is this local date a holiday?" for one calendar; date-holidays years are computed once each. */
export interface HolidayLookup {
  isHoliday(day: DayNumber): boolean;
  /** True when the calendar can never be closed by a holiday (lets always-open calendars skip walking). */
  readonly none: boolean;
}

export function compileHolidays(cal: Calendar): HolidayLookup {
  const explicit = new Set<DayNumber>(
    cal.holidays.map((h) => dayNumberOf(typeof h === 'string' ? h : h.date)),
  );
  const feed = cal.holidaySet ? holidayFeed(cal.holidaySet, cal.id) : undefined;
  return {
    none: explicit.size === 0 && feed === undefined,
    isHoliday: (day) => explicit.has(day) || (feed?.(day) ?? false),
  };
}

function holidayFeed(set: HolidaySetConfig, calendarId: string): (day: DayNumber) => boolean {
  const types = new Set(set.types);
  const hd = new Holidays(
    { country: set.country, state: set.state, region: set.region },
    { types: set.types },
  );
  checkKnown(hd, set, calendarId);
  const years = new Map<number, Set<DayNumber>>();
  const daysOfYear = (year: number): Set<DayNumber> => {
    let days = years.get(year);
    if (!days) {
      days = new Set();
      for (const h of hd.getHolidays(year)) {
        if (!types.has(h.type)) continue;
        // `date` is the holiday's local date ("YYYY-MM-DD hh:mm:ss"); `start`/`end` are UTC instants that
        // would straddle two days (date-holidays #26, #399). Partial days (Christmas Eve from 14:00) close
        // the whole date, since holidays are whole local dates here; multi-day entries close every date.
        const first = dayNumberOf(h.date.slice(0, 10));
        const span = Math.max(1, Math.round((h.end.getTime() - h.start.getTime()) / DAY));
        for (let i = 0; i < span; i++) days.add(first + i);
      }
      years.set(year, days);
    }
    return days;
  };
  // A multi-day holiday listed under one year can spill into the next, so the previous year is consulted too.
  return (day) => {
    const year = yearOf(day);
    return daysOfYear(year).has(day) || daysOfYear(year - 1).has(day);
  };
}

/** date-holidays silently returns nothing (or a parent's list) for unknown codes; a typo must not open a holiday. */
function checkKnown(hd: Holidays, set: HolidaySetConfig, calendarId: string): void {
  const where = `calendar "${calendarId}" holidaySet`;
  if (!hd.getCountries()[set.country])
    throw new Error(`${where}: date-holidays has no country "${set.country}"`);
  if (set.state !== undefined && !hd.getStates(set.country)?.[set.state])
    throw new Error(`${where}: date-holidays has no state "${set.state}" in ${set.country}`);
  if (set.region !== undefined) {
    if (set.state === undefined) throw new Error(`${where}: a region needs a state`);
    if (!hd.getRegions(set.country, set.state)?.[set.region])
      throw new Error(`${where}: date-holidays has no region "${set.region}" in ${set.country}-${set.state}`);
  }
}
