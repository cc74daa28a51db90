import { DateTime } from 'luxon';
import type { Playbook } from '../playbook/schema';

/**
 * A time as the rep reading a HubSpot task reads it: in the stage's own zone, in words, with the zone named
 * ("Mon 23 Nov, 9:15 AM EST"). Task subjects and bodies are shown to people as they are; decisions and logs keep
 * ISO instants.
 */
export function taskTime(ms: number, zone: string): string {
  const d = DateTime.fromMillis(ms, { zone, locale: 'en-US' });
  // ZZZZ is the zone's short name where the locale has one (EST, PDT), else an offset (GMT+1).
  return d.isValid ? d.toFormat('ccc d LLL, h:mm a ZZZZ') : new Date(ms).toISOString();
}

/**
 * The zone a stage's times are told in: its SLA calendar's (where the staff work), else the playbook's first
 * calendar's (the portal's reporting zone, as the scorecard cuts weeks), else UTC.
 */
export function taskZone(playbook: Playbook, calendarId: string | undefined): string {
  const calendar = playbook.calendars.find((c) => c.id === calendarId) ?? playbook.calendars[0];
  return calendar?.timeZone ?? 'UTC';
}
