import type { CompiledCalendar } from './compile';

/** How far the clock looks for staffed time before deciding a calendar is never open ("~2 years"). */
export const HORIZON_DAYS = 2 * 366;

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
function* spansAfter(cal: CompiledCalendar, at: number, horizon: number): Generator<readonly [number, number]> {
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
  let lastStaffedDay = first;
  // Unbounded on purpose: long targets walk as far as needed, but a calendar that stops being staffed for
  // longer than the horizon would otherwise loop for ever.
  for (let day = first; day - lastStaffedDay <= HORIZON_DAYS; day++) {
    for (const [s, e] of cal.spansOf(day)) {
      if (e <= start) continue;
      lastStaffedDay = day;
      const from = Math.max(s, start);
      if (remaining <= e - from) return from + remaining;
      remaining -= e - from;
    }
  }
  throw neverOpen(cal, start);
}

export function businessTimeBetween(cal: CompiledCalendar, from: number, to: number): number {
  instant('from', from);
  instant('to', to);
  if (to <= from) return 0;
  let total = 0;
  const last = cal.dayOf(to);
  for (let day = cal.dayOf(from); day <= last; day++)
    for (const [s, e] of cal.spansOf(day)) total += Math.max(0, Math.min(e, to) - Math.max(s, from));
  return total;
}
