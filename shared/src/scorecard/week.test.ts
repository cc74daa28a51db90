import { describe, expect, it } from 'vitest';
import { isoWeekOf, latestCompleteWeek, parseIsoWeek, reportingZone, weekRange } from './week';
import { scorecardPlaybook } from './fixtures';

const iso = (ms: number) => new Date(ms).toISOString();

describe('ISO weeks in a reporting zone', () => {
  it('cuts 2026-W47 at local Monday midnight in New York (UTC-5 in November)', () => {
    const r = weekRange('2026-W47', 'America/New_York');
    expect(r).toMatchObject({
      week: '2026-W47',
      weekStart: '2026-11-16',
      weekEnd: '2026-11-22',
      timeZone: 'America/New_York',
    });
    expect(iso(r.start)).toBe('2026-11-16T05:00:00.000Z');
    expect(iso(r.end)).toBe('2026-11-23T05:00:00.000Z');
  });

  it('gives the autumn DST week 169 hours and the spring one 167 (US rules, 2026)', () => {
    const fall = weekRange('2026-W44', 'America/New_York'); // clocks go back on Sunday 1 November
    expect(iso(fall.start)).toBe('2026-10-26T04:00:00.000Z');
    expect(iso(fall.end)).toBe('2026-11-02T05:00:00.000Z');
    expect((fall.end - fall.start) / 3600_000).toBe(169);
    const spring = weekRange('2026-W10', 'America/New_York'); // clocks go forward on Sunday 8 March
    expect((spring.end - spring.start) / 3600_000).toBe(167);
  });

  it('handles a southern-hemisphere DST week and a zone east of UTC (week starts on the UTC Sunday)', () => {
    // Sydney leaves DST on Sunday 5 April 2026: that week is an hour longer.
    const r = weekRange('2026-W14', 'Australia/Sydney');
    expect(iso(r.start)).toBe('2026-03-29T13:00:00.000Z');
    expect(iso(r.end)).toBe('2026-04-05T14:00:00.000Z');
  });

  it('defaults to UTC and normalises the label', () => {
    const r = weekRange(' 2026-W01 ');
    expect(r.week).toBe('2026-W01');
    expect(iso(r.start)).toBe('2025-12-29T00:00:00.000Z'); // ISO week 1 holds the year's first Thursday
  });

  it('rejects malformed weeks and week numbers the year does not have, with the expected form', () => {
    expect(() => parseIsoWeek('2026-47')).toThrow(
      'invalid week "2026-47": expected an ISO week like "2026-W47"',
    );
    expect(() => parseIsoWeek('2026-W5')).toThrow(/expected an ISO week/);
    expect(() => parseIsoWeek('2026-W00')).toThrow('2026 has weeks W01 to W53');
    expect(() => parseIsoWeek('2025-W53')).toThrow('2025 has weeks W01 to W52');
    expect(parseIsoWeek('2026-W53')).toEqual({ weekYear: 2026, weekNumber: 53 });
    expect(() => weekRange('2026-W47', 'Mars/Olympus')).toThrow('unknown time zone "Mars/Olympus"');
  });

  it('names the week of an instant in the zone, and the latest complete week', () => {
    const sundayNightNy = Date.parse('2026-11-23T03:00:00Z'); // Sunday 22:00 in New York, Monday in UTC
    expect(isoWeekOf(sundayNightNy, 'America/New_York')).toBe('2026-W47');
    expect(isoWeekOf(sundayNightNy, 'UTC')).toBe('2026-W48');
    expect(latestCompleteWeek(sundayNightNy, 'America/New_York')).toBe('2026-W46');
    expect(latestCompleteWeek(Date.parse('2026-11-23T05:00:00Z'), 'America/New_York')).toBe('2026-W47');
    expect(latestCompleteWeek(Date.parse('2027-01-04T12:00:00Z'), 'UTC')).toBe('2026-W53');
  });

  it('reports in the first calendar zone of the playbook', () => {
    expect(reportingZone(scorecardPlaybook('Europe/Berlin'))).toBe('Europe/Berlin');
    expect(reportingZone(undefined)).toBe('UTC');
  });
});
