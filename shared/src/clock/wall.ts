import { IANAZone } from 'luxon';

export const MINUTE = 60_000;
export const DAY = 86_400_000;

/**
 * Local dates are handled as day numbers (days since 1970-01-01 on the proleptic calendar) so that date
 * arithmetic never goes through a Date in the server's zone.
 */
export type DayNumber = number;

export function dayNumberOf(isoDate: string): DayNumber {
  const [y, m, d] = isoDate.split('-').map(Number) as [number, number, number];
  return Math.floor(Date.UTC(y, m - 1, d) / DAY);
}

export function isoDateOf(day: DayNumber): string {
  return new Date(day * DAY).toISOString().slice(0, 10);
}

export function yearOf(day: DayNumber): number {
  return new Date(day * DAY).getUTCFullYear();
}

/** 0 = Monday … 6 = Sunday, matching the order of WEEKDAYS in the playbook schema. */
export function weekdayOf(day: DayNumber): number {
  // Day 0 (1970-01-01) was a Thursday.
  return (((day + 3) % 7) + 7) % 7;
}

/** The local date, in `zone`, of an instant. */
export function localDayOf(zone: IANAZone, at: number): DayNumber {
  return Math.floor((at + zone.offset(at) * MINUTE) / DAY);
}

/**
 * The instant at which the local wall clock in `zone` reads `minuteOfDay` minutes after midnight of `day`
 * (minutes may run past 1440 into following days).
 *
 * Ambiguous wall times (the repeated hour when clocks go back) resolve to their first occurrence. Wall times
 * inside a spring-forward gap keep the offset in force before the gap, which moves them forward by the gap's
 * length (02:30 on a US spring-forward night becomes 03:30 daylight time); this is luxon's and Temporal's
 * "compatible" rule. Luxon itself is not used for ambiguous times because its choice of occurrence differs
 * between zones (first occurrence in Sydney, second in New York and London).
 */
export function wallToInstant(zone: IANAZone, day: DayNumber, minuteOfDay: number): number {
  const local = day * DAY + minuteOfDay * MINUTE;
  // No zone in the tz database changes offset twice within a day, so the offsets a day either side are the
  // only candidates.
  const before = zone.offset(local - DAY);
  const after = zone.offset(local + DAY);
  const withBefore = local - before * MINUTE;
  if (before === after) return withBefore;
  const withAfter = local - after * MINUTE;
  const beforeFits = zone.offset(withBefore) === before;
  const afterFits = zone.offset(withAfter) === after;
  if (beforeFits && afterFits) return Math.min(withBefore, withAfter);
  if (afterFits) return withAfter;
  return withBefore;
}
