import { describe, expect, it } from 'vitest';
import { nextLocalMidnight } from './midnight';

// Issue 13: a DAILY 429 delays work to the portal's next day; HubSpot resets the quota at local midnight.
describe('nextLocalMidnight', () => {
  it('is the next local midnight, in the zone, across DST changes', () => {
    expect(
      new Date(nextLocalMidnight('America/New_York', Date.parse('2026-11-28T20:00:00Z'))).toISOString(),
    ).toBe('2026-11-29T05:00:00.000Z');
    expect(
      new Date(nextLocalMidnight('America/New_York', Date.parse('2026-11-29T04:59:59Z'))).toISOString(),
    ).toBe('2026-11-29T05:00:00.000Z');
    expect(
      new Date(nextLocalMidnight('America/New_York', Date.parse('2026-11-29T05:00:00Z'))).toISOString(),
    ).toBe('2026-11-30T05:00:00.000Z');
    // The night clocks go back (EDT → EST on 2026-11-01): midnight on the 2nd is 05:00Z.
    expect(
      new Date(nextLocalMidnight('America/New_York', Date.parse('2026-11-01T12:00:00Z'))).toISOString(),
    ).toBe('2026-11-02T05:00:00.000Z');
    expect(
      new Date(nextLocalMidnight('Australia/Sydney', Date.parse('2026-11-28T20:00:00Z'))).toISOString(),
    ).toBe('2026-11-29T13:00:00.000Z');
    expect(new Date(nextLocalMidnight('UTC', Date.parse('2026-11-28T20:00:00Z'))).toISOString()).toBe(
      '2026-11-29T00:00:00.000Z',
    );
  });

  it('refuses an unknown zone', () => {
    expect(() => nextLocalMidnight('Mars/Olympus', 0)).toThrow(/unknown time zone/);
  });
});
