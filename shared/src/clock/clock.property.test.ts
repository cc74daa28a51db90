import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Calendar } from '../playbook/schema';
import { calendar, DAY, MIN } from './fixtures';
import {
  addBusinessTime,
  BeyondHorizonError,
  businessTimeBetween,
  compileCalendar,
  HORIZON_DAYS,
  isOpen,
  nextClose,
  nextOpen,
} from './index';
import { MinuteOracle } from './oracle';

/** Zones with different DST rules, each with its 2026 transition dates (none for Kolkata). */
const ZONES: Record<string, string[]> = {
  'America/New_York': ['2026-03-08', '2026-11-01'],
  'Europe/London': ['2026-03-29', '2026-10-25'],
  'Europe/Berlin': ['2026-03-29', '2026-10-25'],
  'Australia/Sydney': ['2026-04-05', '2026-10-04'],
  'Australia/Lord_Howe': ['2026-04-05', '2026-10-04'],
  'Asia/Kolkata': [],
};

const fmt = (m: number) =>
  `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;

// Quarter hours, the 01:00-03:00 hours where every tested zone's gap or repeated hour lies, and any minute.
const clockMinute = fc.oneof(
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 95 }).map((q) => q * 15) },
  { weight: 3, arbitrary: fc.integer({ min: 60, max: 180 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 1439 }) },
);
const interval = fc
  .record({ start: clockMinute, end: fc.oneof({ weight: 4, arbitrary: clockMinute }, fc.constant(1440)) })
  .map(({ start, end }) => ({ start: fmt(start), end: fmt(end) }));
const weekly = fc.record({
  mon: fc.array(interval, { maxLength: 3 }),
  tue: fc.array(interval, { maxLength: 3 }),
  wed: fc.array(interval, { maxLength: 3 }),
  thu: fc.array(interval, { maxLength: 3 }),
  fri: fc.array(interval, { maxLength: 3 }),
  sat: fc.array(interval, { maxLength: 3 }),
  sun: fc.array(interval, { maxLength: 3 }),
});

/** A calendar plus a minute-aligned window start near one of its zone's transitions (or anywhere in 2026). */
const scenario = fc
  .constantFrom(...Object.keys(ZONES))
  .chain((zone) =>
    fc.record({
      zone: fc.constant(zone),
      anchor: fc.oneof(
        ...ZONES[zone]!.map((d) => fc.constant(Date.parse(`${d}T00:00:00Z`))),
        fc.integer({ min: 0, max: 364 }).map((d) => Date.parse('2026-01-01T00:00:00Z') + d * DAY),
      ),
      shift: fc.integer({ min: -4 * 1440, max: 4 * 1440 }),
      hours: fc.oneof(
        { weight: 1, arbitrary: fc.constant('24/7' as const) },
        { weight: 9, arbitrary: weekly },
      ),
      holidayOffsets: fc.array(fc.integer({ min: -6, max: 25 }), { maxLength: 4 }),
    }),
  )
  .map(({ zone, anchor, shift, hours, holidayOffsets }) => {
    const holidays = holidayOffsets.map((d) => new Date(anchor + d * DAY).toISOString().slice(0, 10));
    const cal: Calendar = calendar(zone, hours, { holidays });
    return { cal, start: anchor + shift * MIN };
  });

const RUNS = 150;

/** nextOpen, with "never open within the horizon" (its documented error) read as Infinity. */
function nextOpenOrNever(cal: ReturnType<typeof compileCalendar>, t: number): number {
  try {
    return nextOpen(cal, t);
  } catch (e) {
    if (e instanceof Error && /no staffed time/.test(e.message)) return Number.POSITIVE_INFINITY;
    throw e;
  }
}

describe('clock agrees with the minute-by-minute oracle', () => {
  it('isOpen, nextOpen and nextClose at points of a 3-day window', () => {
    fc.assert(
      fc.property(
        scenario,
        fc.array(fc.integer({ min: 0, max: 3 * 1440 - 1 }), { minLength: 1, maxLength: 8 }),
        (s, points) => {
          const hi = s.start + 3 * DAY;
          const oracle = new MinuteOracle(s.cal, s.start, hi);
          const compiled = compileCalendar(s.cal);
          for (const p of points) {
            const t = s.start + p * MIN;
            expect(isOpen(compiled, t), `isOpen ${new Date(t).toISOString()}`).toBe(oracle.isOpen(t));
            const open = oracle.nextOpen(t);
            if (open !== undefined) expect(nextOpen(compiled, t)).toBe(open);
            else expect(nextOpenOrNever(compiled, t)).toBeGreaterThanOrEqual(hi);
            const close = oracle.nextClose(t);
            if (close !== undefined) expect(nextClose(compiled, t)).toBe(close);
            else if (open !== undefined) expect(nextClose(compiled, t)).toBeGreaterThanOrEqual(hi);
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('businessTimeBetween over windows up to 3 weeks', () => {
    fc.assert(
      fc.property(
        scenario,
        fc.integer({ min: 1, max: 21 * 1440 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (s, span, cut) => {
          const hi = s.start + span * MIN;
          const oracle = new MinuteOracle(s.cal, s.start, hi);
          const compiled = compileCalendar(s.cal);
          const mid = s.start + Math.floor(span * cut) * MIN;
          expect(businessTimeBetween(compiled, s.start, hi)).toBe(oracle.businessTimeBetween(s.start, hi));
          expect(businessTimeBetween(compiled, mid, hi)).toBe(oracle.businessTimeBetween(mid, hi));
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('addBusinessTime for targets up to 3 weeks', () => {
    fc.assert(
      fc.property(
        scenario,
        fc.integer({ min: 1, max: 21 * 1440 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (s, span, share) => {
          const hi = s.start + span * MIN;
          const oracle = new MinuteOracle(s.cal, s.start, hi);
          const compiled = compileCalendar(s.cal);
          // A share of the staffed minutes the window holds, so the oracle's answer lies inside its window.
          const minutes = Math.floor((oracle.businessTimeBetween(s.start, hi) / MIN) * share);
          expect(addBusinessTime(compiled, s.start, minutes * MIN)).toBe(
            oracle.addBusinessTime(s.start, minutes),
          );
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe("clock is consistent with itself beyond the oracle's reach", () => {
  it('addBusinessTime and businessTimeBetween invert each other for targets up to 10 weeks, at any millisecond', () => {
    fc.assert(
      fc.property(
        scenario,
        fc.integer({ min: 0, max: 59_999 }),
        fc.integer({ min: 1, max: 10 * 7 * DAY }),
        (s, ms, d) => {
          const compiled = compileCalendar(s.cal);
          const start = s.start + ms;
          if (nextOpenOrNever(compiled, start) === Number.POSITIVE_INFINITY) return;
          let end: number;
          try {
            end = addBusinessTime(compiled, start, d);
          } catch (e) {
            // A sparse calendar (one staffed minute a week) cannot reach 10 weeks of staffed time in the horizon: the
            // refusal must be true, i.e. the horizon holds less staffed time than the target.
            if (!(e instanceof BeyondHorizonError)) throw e;
            expect(businessTimeBetween(compiled, start, start + HORIZON_DAYS * DAY)).toBeLessThan(d);
            return;
          }
          expect(businessTimeBetween(compiled, start, end)).toBe(d);
          // The target is reached in staffed time, so the instant just before it is staffed.
          expect(isOpen(compiled, end - 1)).toBe(true);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('whole plain weeks are skipped without changing any answer', () => {
  /** The same calendar with week skipping off: the plain day-by-day walk the skip must agree with. */
  const dayByDay = (c: ReturnType<typeof compileCalendar>) => ({ ...c, plainWeekMs: () => undefined });

  it('addBusinessTime and businessTimeBetween agree with the oracle for 3-8 week windows (skips happen)', () => {
    fc.assert(
      fc.property(
        scenario,
        fc.integer({ min: 21 * 1440, max: 56 * 1440 }),
        fc.double({ min: 0.3, max: 1, noNaN: true }),
        (s, span, share) => {
          const hi = s.start + span * MIN;
          const oracle = new MinuteOracle(s.cal, s.start, hi);
          const compiled = compileCalendar(s.cal);
          expect(businessTimeBetween(compiled, s.start, hi)).toBe(oracle.businessTimeBetween(s.start, hi));
          const minutes = Math.floor((oracle.businessTimeBetween(s.start, hi) / MIN) * share);
          expect(addBusinessTime(compiled, s.start, minutes * MIN)).toBe(
            oracle.addBusinessTime(s.start, minutes),
          );
        },
      ),
      { numRuns: 40 },
    );
  });

  it('agree with the day-by-day walk for targets up to a year, at any millisecond', () => {
    fc.assert(
      fc.property(
        scenario,
        fc.integer({ min: 0, max: 59_999 }),
        fc.integer({ min: 1, max: 365 * DAY }),
        (s, ms, d) => {
          const compiled = compileCalendar(s.cal);
          const start = s.start + ms;
          if (nextOpenOrNever(compiled, start) === Number.POSITIVE_INFINITY) return;
          let skipped: number | string;
          let walked: number | string;
          try {
            skipped = addBusinessTime(compiled, start, d);
          } catch (e) {
            skipped = (e as Error).name;
          }
          try {
            walked = addBusinessTime(dayByDay(compiled), start, d);
          } catch (e) {
            walked = (e as Error).name;
          }
          expect(skipped).toBe(walked);
          if (typeof skipped === 'number')
            expect(businessTimeBetween(compiled, start, skipped)).toBe(
              businessTimeBetween(dayByDay(compiled), start, skipped),
            );
        },
      ),
      { numRuns: 60 },
    );
  });
});
