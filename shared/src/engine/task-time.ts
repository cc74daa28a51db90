import { Info, type Zone } from 'luxon';
import type { Playbook } from '../playbook/schema';

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const HOUR_MS = 3_600_000;
// Bounded: a year of hours per zone is more than any process formats.
const MAX_HOURS = 8192;

type ZoneTimes = { zone: Zone; hours: Map<number, { offset: number; name: string }> };
const zones = new Map<string, ZoneTimes | null>();

/** The zone as luxon reads the same string (IANA names, "UTC", fixed offsets), or null when luxon refuses it. */
function zoneTimes(name: string): ZoneTimes | null {
  let z = zones.get(name);
  if (z === undefined) {
    const zone = Info.normalizeZone(name);
    z = zone.isValid ? { zone, hours: new Map() } : null;
    zones.set(name, z);
  }
  return z;
}

/**
 * The offset (minutes) and short name at `ms`, memoised per UTC hour: luxon reads both through Intl
 * (microseconds a call), which made task texts a large share of an engine decision. An hour whose first and last
 * millisecond share an offset holds no transition (no zone changes twice in an hour), so one read serves it; an
 * hour holding a transition is read exactly.
 */
function offsetAt(z: ZoneTimes, ms: number): { offset: number; name: string } {
  const bucket = Math.floor(ms / HOUR_MS);
  const cached = z.hours.get(bucket);
  if (cached) return cached;
  const read = (at: number) => ({
    offset: z.zone.offset(at),
    name: z.zone.offsetName(at, { format: 'short', locale: 'en-US' }) ?? '',
  });
  const first = z.zone.offset(bucket * HOUR_MS);
  if (first !== z.zone.offset(bucket * HOUR_MS + HOUR_MS - 1)) return read(ms);
  const out = read(bucket * HOUR_MS);
  if (z.hours.size >= MAX_HOURS) z.hours.delete(z.hours.keys().next().value!);
  z.hours.set(bucket, out);
  return out;
}

/**
 * A time as the rep reading a HubSpot task reads it: in the stage's own zone, in words, with the zone named
 * ("Mon 23 Nov, 9:15 AM EST"). Task subjects and bodies are shown to people as they are; decisions and logs keep
 * ISO instants. The same text as luxon's `toFormat('ccc d LLL, h:mm a ZZZZ')` in en-US (ZZZZ: the zone's short
 * name where the locale has one, else an offset such as GMT+1), written without its tokenizer; held to it by
 * task-time.property.test.ts.
 */
export function taskTime(ms: number, zone: string): string {
  const z = zoneTimes(zone);
  if (!z || !Number.isFinite(ms)) return new Date(ms).toISOString();
  const { offset, name } = offsetAt(z, ms);
  const local = new Date(ms + offset * 60_000);
  if (Number.isNaN(local.getTime())) return new Date(ms).toISOString();
  const h = local.getUTCHours();
  const mm = String(local.getUTCMinutes()).padStart(2, '0');
  return `${WEEKDAYS[local.getUTCDay()]} ${local.getUTCDate()} ${MONTHS[local.getUTCMonth()]}, ${h % 12 || 12}:${mm} ${h < 12 ? 'AM' : 'PM'} ${name}`;
}

/**
 * The zone a stage's times are told in: its SLA calendar's (where the staff work), else the playbook's first
 * calendar's (the portal's reporting zone, as the scorecard cuts weeks), else UTC.
 */
export function taskZone(playbook: Playbook, calendarId: string | undefined): string {
  const calendar = playbook.calendars.find((c) => c.id === calendarId) ?? playbook.calendars[0];
  return calendar?.timeZone ?? 'UTC';
}
