import { IANAZone, Settings } from 'luxon';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { at, calendar, DAY, HOUR, MIN, week } from './fixtures';
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

const iso = (t: number) => new Date(t).toISOString();

describe('DST nights: wall-clock hours become 3 or 5 real hours', () => {
  const nightShift = (zone: string) => compileCalendar(calendar(zone, week({ sun: ['01:00-05:00'] })));
  const staffedOn = (zone: string, date: string) => {
    const cal = nightShift(zone);
    // The whole UTC span around the local date, so only that Sunday's shift can be counted.
    return businessTimeBetween(cal, at(`${date}T00:00:00Z`) - DAY, at(`${date}T00:00:00Z`) + DAY) / HOUR;
  };

  it.each([
    ['America/New_York', '2026-03-08', 3],
    ['America/New_York', '2026-11-01', 5],
    ['America/New_York', '2026-11-08', 4],
    ['Europe/London', '2026-03-29', 3],
    ['Europe/London', '2026-10-25', 5],
    ['Australia/Sydney', '2026-10-04', 3],
    ['Australia/Sydney', '2026-04-05', 5],
    ['Australia/Lord_Howe', '2026-10-04', 3.5],
    ['Australia/Lord_Howe', '2026-04-05', 4.5],
    ['Asia/Kolkata', '2026-03-08', 4],
  ])('%s on %s: %s staffed hours', (zone, date, hours) => {
    expect(staffedOn(zone, date)).toBe(hours);
  });

  it('a start inside the spring-forward gap moves forward by the gap (02:30 -> 03:30 EDT)', () => {
    const cal = compileCalendar(calendar('America/New_York', week({ sun: ['02:30-05:00'] })));
    expect(iso(nextOpen(cal, at('2026-03-08T00:00:00-05:00')))).toBe('2026-03-08T07:30:00.000Z');
    expect(isOpen(cal, at('2026-03-08T03:15:00-04:00'))).toBe(false);
  });

  it('a repeated wall time means its first occurrence, in both hemispheres', () => {
    const london = compileCalendar(calendar('Europe/London', week({ sun: ['00:00-01:30'] })));
    expect(iso(nextClose(london, at('2026-10-25T00:00:00+01:00')))).toBe('2026-10-25T00:30:00.000Z');
    expect(isOpen(london, at('2026-10-25T01:15:00+00:00'))).toBe(false);

    const sydney = compileCalendar(calendar('Australia/Sydney', week({ sun: ['02:30-06:00'] })));
    // 02:30 first happens in daylight time (+11), so the shift is 4.5 real hours.
    expect(iso(nextOpen(sydney, at('2026-04-05T00:00:00+11:00')))).toBe('2026-04-04T15:30:00.000Z');
    expect(businessTimeBetween(sydney, at('2026-04-04T00:00:00Z'), at('2026-04-06T00:00:00Z'))).toBe(
      4.5 * HOUR,
    );
  });

  it('an end pushed before its start by the gap leaves that night empty', () => {
    const cal = compileCalendar(calendar('America/New_York', week({ sun: ['02:50-03:10'] })));
    expect(businessTimeBetween(cal, at('2026-03-08T00:00:00Z'), at('2026-03-09T00:00:00Z'))).toBe(0);
    expect(businessTimeBetween(cal, at('2026-03-15T00:00:00Z'), at('2026-03-16T00:00:00Z'))).toBe(20 * MIN);
  });
});

describe('overnight shifts, midnight and split days', () => {
  const nights = compileCalendar(calendar('America/New_York', week({ mon: ['22:00-06:00'] })));

  it('Monday 22:00-06:00 runs into Tuesday', () => {
    expect(isOpen(nights, at('2026-11-10T03:00:00-05:00'))).toBe(true);
    expect(iso(nextClose(nights, at('2026-11-09T23:00:00-05:00')))).toBe('2026-11-10T11:00:00.000Z');
  });

  it('a holiday closes the after-midnight part of a shift that began the day before', () => {
    const tueHoliday = compileCalendar(
      calendar('America/New_York', week({ mon: ['22:00-06:00'] }), { holidays: ['2026-11-10'] }),
    );
    expect(isOpen(tueHoliday, at('2026-11-10T03:00:00-05:00'))).toBe(false);
    expect(iso(nextClose(tueHoliday, at('2026-11-09T22:00:00-05:00')))).toBe('2026-11-10T05:00:00.000Z');
    const weekOf = [at('2026-11-09T00:00:00-05:00'), at('2026-11-16T00:00:00-05:00')] as const;
    expect(businessTimeBetween(tueHoliday, ...weekOf)).toBe(2 * HOUR);

    // A holiday on the Monday leaves Tuesday's early hours staffed.
    const monHoliday = compileCalendar(
      calendar('America/New_York', week({ mon: ['22:00-06:00'] }), {
        holidays: [{ date: '2026-11-09', name: 'x' }],
      }),
    );
    expect(businessTimeBetween(monHoliday, ...weekOf)).toBe(6 * HOUR);
    expect(iso(nextOpen(monHoliday, at('2026-11-09T12:00:00-05:00')))).toBe('2026-11-10T05:00:00.000Z');
  });

  it('a day ending 24:00 and the next starting 00:00 are one stretch with no gap', () => {
    const cal = compileCalendar(
      calendar('Europe/Berlin', week({ mon: ['18:00-24:00'], tue: ['00:00-06:00'] })),
    );
    expect(isOpen(cal, at('2026-06-15T23:59:00+02:00'))).toBe(true);
    expect(isOpen(cal, at('2026-06-16T00:00:00+02:00'))).toBe(true);
    expect(iso(nextClose(cal, at('2026-06-15T19:00:00+02:00')))).toBe('2026-06-16T04:00:00.000Z');
    expect(businessTimeBetween(cal, at('2026-06-15T00:00:00+02:00'), at('2026-06-17T00:00:00+02:00'))).toBe(
      12 * HOUR,
    );
  });

  it('a 24/7 calendar is never closed at midnight', () => {
    const cal = compileCalendar(calendar('Europe/Berlin', '24/7'));
    expect(isOpen(cal, at('2026-06-16T00:00:00+02:00'))).toBe(true);
    expect(nextClose(cal, at('2026-06-16T00:00:00+02:00'))).toBe(Number.POSITIVE_INFINITY);
  });

  it('a split day skips its lunch break', () => {
    const cal = compileCalendar(calendar('Asia/Kolkata', week({ mon: ['09:00-12:00', '13:00-17:00'] })));
    expect(iso(addBusinessTime(cal, at('2026-06-15T11:00:00+05:30'), 2 * HOUR))).toBe(
      '2026-06-15T08:30:00.000Z',
    );
    expect(isOpen(cal, at('2026-06-15T12:30:00+05:30'))).toBe(false);
    expect(iso(nextClose(cal, at('2026-06-15T09:30:00+05:30')))).toBe('2026-06-15T06:30:00.000Z');
  });
});

describe('targets', () => {
  const weekdays = compileCalendar(
    calendar(
      'America/New_York',
      week(Object.fromEntries(['mon', 'tue', 'wed', 'thu', 'fri'].map((d) => [d, ['09:00-17:00' as const]]))),
    ),
  );

  it('a target starting mid-interval runs into the next day', () => {
    expect(iso(addBusinessTime(weekdays, at('2026-06-15T16:00:00-04:00'), 4 * HOUR))).toBe(
      '2026-06-16T16:00:00.000Z',
    );
  });

  it('a target starting outside hours starts counting at the next opening', () => {
    expect(iso(addBusinessTime(weekdays, at('2026-06-13T10:00:00-04:00'), 1 * HOUR))).toBe(
      '2026-06-15T14:00:00.000Z',
    );
  });

  it('a target landing exactly on a close ends there, not at the next opening', () => {
    expect(iso(addBusinessTime(weekdays, at('2026-06-15T09:00:00-04:00'), 8 * HOUR))).toBe(
      '2026-06-15T21:00:00.000Z',
    );
  });

  it('a 2-week target (80 staffed hours) crosses two weekends', () => {
    const start = at('2026-01-05T09:00:00-05:00');
    const end = addBusinessTime(weekdays, start, 80 * HOUR);
    expect(iso(end)).toBe('2026-01-16T22:00:00.000Z');
    expect(businessTimeBetween(weekdays, start, end)).toBe(80 * HOUR);
  });

  it('a year-long target walks open stretches, not minutes', () => {
    const started = performance.now();
    const end = addBusinessTime(weekdays, at('2026-01-05T09:00:00-05:00'), 52 * 40 * HOUR);
    expect(iso(end)).toBe('2027-01-01T22:00:00.000Z');
    // Generous bound for a shared CI machine; a minute walk would take orders of magnitude longer.
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('zero duration returns the start even when closed; negative durations are refused', () => {
    const saturday = at('2026-06-13T10:00:00-04:00');
    expect(addBusinessTime(weekdays, saturday, 0)).toBe(saturday);
    expect(() => addBusinessTime(weekdays, saturday, -1)).toThrow(/non-negative/);
  });

  it('businessTimeBetween is 0 for an empty or reversed range', () => {
    const t = at('2026-06-15T10:00:00-04:00');
    expect(businessTimeBetween(weekdays, t, t)).toBe(0);
    expect(businessTimeBetween(weekdays, t + HOUR, t)).toBe(0);
  });

  it('a calendar that is never staffed fails clearly instead of looping', () => {
    const never = compileCalendar(calendar('UTC', week({})));
    expect(() => nextOpen(never, at('2026-01-01T00:00:00Z'))).toThrow(/calendar "test" has no staffed time/);
    expect(() => addBusinessTime(never, at('2026-01-01T00:00:00Z'), HOUR)).toThrow(/no staffed time/);
    expect(() => nextClose(never, at('2026-01-01T00:00:00Z'))).toThrow(/no staffed time/);
  });
});

describe('holidays', () => {
  it('closes a 24/7 calendar for exactly the local holiday date', () => {
    const cal = compileCalendar(calendar('Europe/Berlin', '24/7', { holidays: ['2026-12-25'] }));
    const noonEve = at('2026-12-24T12:00:00+01:00');
    expect(iso(nextClose(cal, noonEve))).toBe('2026-12-24T23:00:00.000Z');
    expect(iso(nextOpen(cal, at('2026-12-25T12:00:00+01:00')))).toBe('2026-12-25T23:00:00.000Z');
    expect(iso(addBusinessTime(cal, noonEve, 24 * HOUR))).toBe('2026-12-26T11:00:00.000Z');
  });

  it('a US holidaySet closes Thanksgiving (2026-11-26) in New York, and the substitute Independence Day', () => {
    const cal = compileCalendar(
      calendar(
        'America/New_York',
        week({ wed: ['09:00-17:00'], thu: ['09:00-17:00'], fri: ['09:00-17:00'] }),
        {
          holidaySet: { country: 'US', types: ['public'] },
        },
      ),
    );
    expect(isOpen(cal, at('2026-11-26T10:00:00-05:00'))).toBe(false);
    expect(isOpen(cal, at('2026-11-27T10:00:00-05:00'))).toBe(true);
    expect(iso(addBusinessTime(cal, at('2026-11-25T16:00:00-05:00'), 2 * HOUR))).toBe(
      '2026-11-27T15:00:00.000Z',
    );
    expect(isOpen(cal, at('2026-07-03T10:00:00-04:00'))).toBe(false);
    expect(isOpen(cal, at('2026-07-02T10:00:00-04:00'))).toBe(true);
  });

  it('holidaySet types choose which holidays close: a bank-holiday set closes Christmas Eve, a public one does not', () => {
    const christmasEve = at('2026-12-24T10:00:00+01:00');
    const withTypes = (types: ('public' | 'bank')[]) =>
      compileCalendar(
        calendar('Europe/Berlin', '24/7', { holidaySet: { country: 'DE', state: 'BY', types } }),
      );
    expect(isOpen(withTypes(['public']), christmasEve)).toBe(true);
    // date-holidays starts Heiliger Abend at 14:00; holidays are whole local dates here.
    expect(isOpen(withTypes(['bank']), christmasEve)).toBe(false);
    expect(isOpen(withTypes(['bank']), at('2026-12-25T10:00:00+01:00'))).toBe(true);
  });

  it('an unknown holiday country or state fails at compile time', () => {
    expect(() =>
      compileCalendar(calendar('UTC', '24/7', { holidaySet: { country: 'XX', types: ['public'] } })),
    ).toThrow(/no country "XX"/);
    expect(() =>
      compileCalendar(
        calendar('UTC', '24/7', { holidaySet: { country: 'US', state: 'ZZ', types: ['public'] } }),
      ),
    ).toThrow(/no state "ZZ"/);
  });
});

describe('no leaking of the host time zone', () => {
  const savedZone = Settings.defaultZone;
  const savedTz = process.env.TZ;
  afterEach(() => {
    Settings.defaultZone = savedZone;
    if (savedTz === undefined) delete process.env.TZ;
    else process.env.TZ = savedTz;
  });

  const sample = () => {
    const cal = compileCalendar(
      calendar(
        'America/New_York',
        week({ mon: ['22:00-06:00'], sun: ['01:00-05:00'], fri: ['09:00-24:00'] }),
        {
          holidays: ['2026-11-10'],
          holidaySet: { country: 'US', types: ['public'] },
        },
      ),
    );
    const t = at('2026-10-30T12:00:00Z');
    return [
      isOpen(cal, t),
      nextOpen(cal, t),
      nextClose(cal, t),
      addBusinessTime(cal, t, 30 * HOUR),
      businessTimeBetween(cal, t, t + 30 * DAY),
    ];
  };

  it('gives the same answers with luxon and the process set to Pacific/Chatham (+12:45/+13:45)', () => {
    const before = sample();
    Settings.defaultZone = 'Pacific/Chatham';
    process.env.TZ = 'Pacific/Chatham';
    // Guard against the change silently not taking effect, which would make this test vacuous.
    expect(new Date(Date.UTC(2026, 0, 1)).getTimezoneOffset()).toBe(-825);
    expect(sample()).toEqual(before);
  });
});

describe('bounded work on sparse calendars (issue 12: one staffed minute a week froze the service)', () => {
  /** Counts the clock's steps: days whose spans are built and weeks looked at whole. */
  function counted(c: ReturnType<typeof compileCalendar>) {
    const steps = { days: 0, weeks: 0 };
    const cal = {
      ...c,
      spansOf: (d: number) => (steps.days++, c.spansOf(d)),
      plainWeekMs: (d: number) => (steps.weeks++, c.plainWeekMs(d)),
    };
    return { cal, steps };
  }
  const sparse = calendar('America/New_York', week({ wed: ['10:00-10:01'] }), { holidays: ['2026-12-25'] });

  it('a 1,000 h target on a calendar open 1 minute a week is refused after at most ~2 years of week steps', () => {
    const { cal, steps } = counted(compileCalendar(sparse));
    expect(() => addBusinessTime(cal, at('2026-03-02T09:00:00-05:00'), 1000 * HOUR)).toThrow(
      BeyondHorizonError,
    );
    // ~105 plain weeks skipped whole; days walked (each also asking whether a plain week starts there) only
    // in the 5 weeks with a holiday or a DST change in two years, and the first date. The day walk: 733 days.
    expect(steps.weeks).toBeLessThanOrEqual(Math.ceil(HORIZON_DAYS / 7) + 5 * 7);
    expect(steps.days).toBeLessThanOrEqual(5 * 7 + 1);
  });

  it('a reachable long target (90 staffed minutes: 90 weeks) takes week steps, not day steps', () => {
    const { cal, steps } = counted(compileCalendar(sparse));
    const start = at('2026-03-02T09:00:00-05:00');
    const due = addBusinessTime(cal, start, 90 * MIN);
    expect(businessTimeBetween(compileCalendar(sparse), start, due)).toBe(90 * MIN);
    expect(isOpen(compileCalendar(sparse), due - 1)).toBe(true);
    expect(steps.weeks).toBeLessThanOrEqual(90 + 5 * 7);
    expect(steps.days).toBeLessThanOrEqual(5 * 7 + 8);
  });

  it('businessTimeBetween over two years counts weeks whole', () => {
    const { cal, steps } = counted(compileCalendar(sparse));
    const from = at('2026-03-02T09:00:00-05:00');
    expect(businessTimeBetween(cal, from, from + HORIZON_DAYS * DAY)).toBe(
      businessTimeBetween(
        { ...compileCalendar(sparse), plainWeekMs: () => undefined },
        from,
        from + HORIZON_DAYS * DAY,
      ),
    );
    expect(steps.days).toBeLessThanOrEqual(5 * 7 + 14);
  });
});

describe('memoised per calendar (issue 18: re-reading offsets made a 1M-visit what-if take 175 s)', () => {
  it('a second walk over dates already walked reads no zone offset', () => {
    // Clinic-like hours in New York, long enough a target that the walk crosses weeks and asks per date whether a
    // plain week starts there.
    const cal = compileCalendar(
      calendar('America/New_York', week({ mon: ['09:00-17:00'], thu: ['09:00-17:00'] })),
    );
    const start = at('2026-10-20T10:00:00-04:00');
    const due = addBusinessTime(cal, start, 30 * HOUR);
    expect(businessTimeBetween(cal, start, due)).toBe(30 * HOUR);
    const spy = vi.spyOn(IANAZone.prototype, 'offset');
    try {
      expect(addBusinessTime(cal, start, 30 * HOUR)).toBe(due);
      expect(businessTimeBetween(cal, start, due)).toBe(30 * HOUR);
      // Luxon reads offsets through Intl, microseconds each; every answer here is already known per hour and date.
      expect(spy).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
  });
});
