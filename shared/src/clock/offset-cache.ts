import type { IANAZone } from 'luxon';
import { DAY, MINUTE, localDayOf, type DayNumber } from './wall';

const BUCKET_MS = 3_600_000;
// Bounded like the span cache: about a year of hours per calendar.
const MAX_BUCKETS = 8192;

/**
 * localDayOf with the zone's offset memoised per UTC hour. Luxon reads offsets through Intl (microseconds per
 * call), and every clock query starts with the local date of an instant, so replays of a million visits spent
 * most of their time there. An hour whose first and last millisecond share an offset has no transition inside
 * (no zone changes offset twice within an hour), so its offset is cached; an hour holding a transition is
 * always computed exactly.
 */
export function cachedLocalDay(zone: IANAZone): (at: number) => DayNumber {
  const offsets = new Map<number, number>();
  return (at) => {
    const bucket = Math.floor(at / BUCKET_MS);
    let offset = offsets.get(bucket);
    if (offset === undefined) {
      const first = zone.offset(bucket * BUCKET_MS);
      if (first !== zone.offset(bucket * BUCKET_MS + BUCKET_MS - 1)) return localDayOf(zone, at);
      if (offsets.size >= MAX_BUCKETS) offsets.delete(offsets.keys().next().value!);
      offsets.set(bucket, (offset = first));
    }
    return Math.floor((at + offset * MINUTE) / DAY);
  };
}
