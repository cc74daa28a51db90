/** Test-only helpers for building calendars without going through the playbook parser's other rules. */
import { WEEKDAYS, type Calendar } from '../playbook/schema';

type Day = (typeof WEEKDAYS)[number];
type Span = `${string}-${string}`;

/** `week({ mon: ['09:00-17:00'] })`: terse weekly hours; unlisted days are closed. */
export function week(days: Partial<Record<Day, Span[]>>): Exclude<Calendar['hours'], '24/7'> {
  return Object.fromEntries(
    WEEKDAYS.map((d) => [
      d,
      (days[d] ?? []).map((s) => {
        const [start, end] = s.split('-') as [string, string];
        return { start, end };
      }),
    ]),
  ) as Exclude<Calendar['hours'], '24/7'>;
}

export function calendar(
  timeZone: string,
  hours: Calendar['hours'],
  extra: Partial<Pick<Calendar, 'holidays' | 'holidaySet'>> = {},
): Calendar {
  return { id: 'test', timeZone, hours, holidays: [], ...extra };
}

export const HOUR = 3_600_000;
export const MIN = 60_000;
export const DAY = 86_400_000;

/** Epoch ms of an ISO instant with an explicit offset; refuses zone-less input so tests cannot leak TZ. */
export function at(iso: string): number {
  if (!/(Z|[+-]\d{2}:\d{2})$/.test(iso)) throw new Error(`give ${iso} an offset`);
  return Date.parse(iso);
}
