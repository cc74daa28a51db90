import fc from 'fast-check';
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { taskTime } from './task-time';

/** The formatter taskTime replaced (luxon's tokenizer): the texts must stay exactly the same. */
const luxonTaskTime = (ms: number, zone: string) => {
  const d = DateTime.fromMillis(ms, { zone, locale: 'en-US' });
  return d.isValid ? d.toFormat('ccc d LLL, h:mm a ZZZZ') : new Date(ms).toISOString();
};

const ZONES = [
  'America/New_York',
  'America/Los_Angeles',
  'America/St_Johns',
  'Europe/London',
  'Europe/Berlin',
  'Asia/Kolkata',
  'Asia/Kathmandu',
  'Australia/Sydney',
  'Australia/Lord_Howe',
  'Pacific/Chatham',
  'America/Sao_Paulo',
  'UTC',
  'utc',
  'Etc/GMT+5',
  'UTC+3',
  'Not/AZone',
];
const DST_ZONES = [
  'America/New_York',
  'America/St_Johns',
  'Europe/Berlin',
  'Australia/Lord_Howe',
  'Pacific/Chatham',
  'America/Sao_Paulo',
];
const FROM = Date.parse('1995-01-01T00:00:00Z');
const TO = Date.parse('2045-01-01T00:00:00Z');

/** Instants in the hours around each zone's 2026 transitions, where offsets and names change. */
const transitionHours = [
  '2026-03-08',
  '2026-03-29',
  '2026-04-05',
  '2026-09-27',
  '2026-10-04',
  '2026-10-25',
  '2026-11-01',
].map((d) => Date.parse(`${d}T00:00:00Z`));

describe('taskTime matches luxon toFormat exactly', () => {
  it('on any minute of 50 years in zones with and without daylight time, fixed offsets and bad names', () => {
    fc.assert(
      fc.property(fc.integer({ min: FROM, max: TO }), fc.constantFrom(...ZONES), (ms, zone) => {
        expect(taskTime(ms, zone)).toBe(luxonTaskTime(ms, zone));
      }),
      { numRuns: 800 },
    );
  });

  // Steps under an hour, so most instants are answered from an hour already cached.
  it('every half hour over the days holding daylight-time changes', () => {
    for (const zone of DST_ZONES)
      for (const day of transitionHours)
        for (let ms = day - 12 * 3_600_000; ms < day + 36 * 3_600_000; ms += 30 * 60_000 + 7_000)
          expect(taskTime(ms, zone)).toBe(luxonTaskTime(ms, zone));
  });
});
