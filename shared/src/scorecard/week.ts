import { DateTime, IANAZone } from 'luxon';
import type { Playbook } from '../playbook/schema';

/**
 * ISO weeks in a reporting time zone. A week runs local Monday 00:00 to the next local Monday 00:00, so a DST
 * week is 167 or 169 hours long: luxon's calendar arithmetic in the zone gives exactly that.
 */

export type WeekRange = {
  /** Normalised "YYYY-Www". */
  week: string;
  timeZone: string;
  /** Instants, epoch ms: [start, end). */
  start: number;
  end: number;
  /** Local dates of the Monday and the Sunday. */
  weekStart: string;
  weekEnd: string;
};

export class WeekError extends Error {
  override readonly name = 'WeekError';
}

const WEEK_RE = /^(\d{4})-W(\d{2})$/;

/** Fails on anything luxon would otherwise roll over (e.g. "2025-W53" into 2026). */
export function parseIsoWeek(text: string): { weekYear: number; weekNumber: number } {
  const m = WEEK_RE.exec(text.trim());
  if (!m) throw new WeekError(`invalid week "${text}": expected an ISO week like "2026-W47"`);
  const weekYear = Number(m[1]);
  const weekNumber = Number(m[2]);
  const max = DateTime.fromObject({ weekYear, weekNumber: 1, weekday: 1 }, { zone: 'UTC' }).weeksInWeekYear;
  if (weekNumber < 1 || weekNumber > max)
    throw new WeekError(`invalid week "${text}": ${weekYear} has weeks W01 to W${String(max)}`);
  return { weekYear, weekNumber };
}

export function assertZone(zone: string): string {
  if (!IANAZone.isValidZone(zone))
    throw new WeekError(`unknown time zone "${zone}": expected an IANA zone like "America/New_York"`);
  return zone;
}

/** §4.7: the first calendar's zone is the reporting zone; UTC when there is no playbook to ask. */
export function reportingZone(playbook: Playbook | undefined): string {
  return playbook?.calendars[0]?.timeZone ?? 'UTC';
}

const label = (weekYear: number, weekNumber: number) => `${weekYear}-W${String(weekNumber).padStart(2, '0')}`;

export function weekRange(week: string, zone = 'UTC'): WeekRange {
  assertZone(zone);
  const { weekYear, weekNumber } = parseIsoWeek(week);
  const monday = DateTime.fromObject({ weekYear, weekNumber, weekday: 1 }, { zone }).startOf('day');
  const next = monday.plus({ weeks: 1 });
  return {
    week: label(weekYear, weekNumber),
    timeZone: zone,
    start: monday.toMillis(),
    end: next.toMillis(),
    weekStart: monday.toISODate()!,
    weekEnd: monday.plus({ days: 6 }).toISODate()!,
  };
}

/** The ISO week containing instant `ms` in `zone`. */
export function isoWeekOf(ms: number, zone = 'UTC'): string {
  const d = DateTime.fromMillis(ms, { zone: assertZone(zone) });
  return label(d.weekYear, d.weekNumber);
}

/** The newest week that has fully ended at `now`: the default when no week is asked for (§4.7). */
export function latestCompleteWeek(now: number, zone = 'UTC'): string {
  const d = DateTime.fromMillis(now, { zone: assertZone(zone) })
    .startOf('week')
    .minus({ weeks: 1 });
  return label(d.weekYear, d.weekNumber);
}

const MONTH_RE = /^(\d{4})-(\d{2})$/;

/**
 * A calendar month in the reporting zone, for the monthly review (003: "weekly pipeline review and monthly process
 * audit"): local first-of-month 00:00 to the next. Same shape as a week, `week` holding "YYYY-MM" and
 * weekStart/weekEnd its first and last local dates.
 */
export function monthRange(month: string, zone = 'UTC'): WeekRange {
  assertZone(zone);
  const m = MONTH_RE.exec(month.trim());
  const year = Number(m?.[1]);
  const monthNumber = Number(m?.[2]);
  if (!m || monthNumber < 1 || monthNumber > 12)
    throw new WeekError(`invalid month "${month}": expected a month like "2026-11"`);
  const first = DateTime.fromObject({ year, month: monthNumber, day: 1 }, { zone }).startOf('day');
  const next = first.plus({ months: 1 });
  return {
    week: `${year}-${String(monthNumber).padStart(2, '0')}`,
    timeZone: zone,
    start: first.toMillis(),
    end: next.toMillis(),
    weekStart: first.toISODate()!,
    weekEnd: next.minus({ days: 1 }).toISODate()!,
  };
}

/** "YYYY-Www" is a week, "YYYY-MM" a month. */
export function periodRange(period: string, zone = 'UTC'): WeekRange {
  return MONTH_RE.test(period.trim()) ? monthRange(period, zone) : weekRange(period, zone);
}

export const isMonth = (period: string) => MONTH_RE.test(period.trim());

/** The month containing `ms` in `zone`, as "YYYY-MM". */
export function monthOf(ms: number, zone = 'UTC'): string {
  return DateTime.fromMillis(ms, { zone: assertZone(zone) }).toFormat('yyyy-MM');
}

/** The newest month that has fully ended at `now`. */
export function latestCompleteMonth(now: number, zone = 'UTC'): string {
  return DateTime.fromMillis(now, { zone: assertZone(zone) })
    .startOf('month')
    .minus({ months: 1 })
    .toFormat('yyyy-MM');
}
