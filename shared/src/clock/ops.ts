import type { CompiledCalendar } from './compile';

/**
 * How far the clock looks ahead ("~2 years"): for staffed time before deciding a calendar is never open, and
 * for the instant a target is reached. Every query is bounded by it; walks skip plain weeks whole (see
 * `CompiledCalendar.plainWeekMs`), so a query costs at most ~105 week steps plus the days of weeks with a
 * holiday or an offset change.
 */
export const HORIZON_DAYS = 2 * 366;

/** A target the calendar does not reach within HORIZON_DAYS of its start (playbook validation refuses these). */
export class BeyondHorizonError extends Error {
  constructor(
    readonly calendarId: string,
    readonly start: number,
    readonly durationMs: number,
  ) {
    super(
      `calendar "${calendarId}" does not reach ${Math.round(durationMs / 60_000)} staffed minutes within the ${HORIZON_DAYS} days after ${new Date(start).toISOString()}`,
    );
    this.name = 'BeyondHorizonError';
  }
}

function instant(name: string, value: number): number {
  if (!Number.isFinite(value)) throw new Error(`${name} must be a finite epoch-ms instant, got ${value}`);
  return value;
}

function neverOpen(cal: CompiledCalendar, at: number): Error {
  return new Error(
    `calendar "${cal.id}" has no staffed time in the ${HORIZON_DAYS} days after ${new Date(at).toISOString()}`,
  );
}

/** Staffed spans ending after `at`, in order, over the local dates from `at`'s to `horizon` days later. */
function* spansAfter(
  cal: CompiledCalendar,
  at: number,
  horizon: number,
): Generator<readonly [number, number]> {
  const first = cal.dayOf(at);
  for (let day = first; day <= first + horizon; day++)
    for (const span of cal.spansOf(day)) if (span[1] > at) yield span;
}

export function isOpen(cal: CompiledCalendar, at: number): boolean {
  instant('at', at);
  return cal.spansOf(cal.dayOf(at)).some(([s, e]) => s <= at && at < e);
}

export function nextOpen(cal: CompiledCalendar, at: number): number {
  instant('at', at);
  for (const [s] of spansAfter(cal, at, HORIZON_DAYS)) return Math.max(s, at);
  throw neverOpen(cal, at);
}

export function nextClose(cal: CompiledCalendar, at: number): number {
  instant('at', at);
  if (cal.neverCloses) return Number.POSITIVE_INFINITY;
  let end: number | undefined;
  for (const [s, e] of spansAfter(cal, at, HORIZON_DAYS)) {
    // Spans are clipped at local midnight, so a stretch running through midnight arrives as touching pieces.
    if (end !== undefined && s > end) return end;
    end = e;
  }
  if (end === undefined) throw neverOpen(cal, at);
  return Number.POSITIVE_INFINITY;
}

export function addBusinessTime(cal: CompiledCalendar, start: number, durationMs: number): number {
  instant('start', start);
  if (!Number.isFinite(durationMs) || durationMs < 0)
    throw new Error(`durationMs must be a finite, non-negative number of milliseconds, got ${durationMs}`);
  if (durationMs === 0) return start;
  let remaining = durationMs;
  const first = cal.dayOf(start);
  let staffedSeen = false;
  for (let day = first; day <= first + HORIZON_DAYS;) {
    // Whole weeks after the start's own date: skipped in one step while the target lies beyond them (the week
    // that reaches it is walked day by day, so the answer is the same instant the day walk gives).
    if (day > first) {
      const week = cal.plainWeekMs(day);
      if (week !== undefined && week < remaining) {
        remaining -= week;
        if (week > 0) staffedSeen = true;
        day += 7;
        continue;
      }
    }
    for (const [s, e] of cal.spansOf(day)) {
      if (e <= start) continue;
      staffedSeen = true;
      const from = Math.max(s, start);
      if (remaining <= e - from) return from + remaining;
      remaining -= e - from;
    }
    day++;
  }
  if (!staffedSeen) throw neverOpen(cal, start);
  throw new BeyondHorizonError(cal.id, start, durationMs);
}

export function businessTimeBetween(cal: CompiledCalendar, from: number, to: number): number {
  instant('from', from);
  instant('to', to);
  if (to <= from) return 0;
  let total = 0;
  const firstDay = cal.dayOf(from);
  const last = cal.dayOf(to);
  for (let day = firstDay; day <= last;) {
    // Weeks strictly between the two ends' dates are counted whole when plain.
    if (day > firstDay && day + 7 <= last) {
      const week = cal.plainWeekMs(day);
      if (week !== undefined) {
        total += week;
        day += 7;
        continue;
      }
    }
    for (const [s, e] of cal.spansOf(day)) total += Math.max(0, Math.min(e, to) - Math.max(s, from));
    day++;
  }
  return total;
}
