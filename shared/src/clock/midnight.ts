import { IANAZone } from 'luxon';
import { localDayOf, wallToInstant } from './wall';

/**
 * The first instant after `at` at which the local date in `timeZone` changes (the next local midnight, or the
 * first minute of the next day where midnight falls in a DST gap). HubSpot resets a portal's daily API quota at
 * midnight in the account's time zone. Throws on an unknown zone.
 */
export function nextLocalMidnight(timeZone: string, at: number): number {
  const zone = IANAZone.create(timeZone);
  if (!zone.isValid) throw new Error(`unknown time zone "${timeZone}"`);
  return wallToInstant(zone, localDayOf(zone, at) + 1, 0);
}
