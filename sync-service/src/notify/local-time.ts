/**
 * An instant as a reader in `timeZone` says it, the zone named: "Mon 2 Mar, 12:00 PM EST". A lead reads a page on
 * a phone, often in a hurry; an ISO instant in UTC makes them do time-zone arithmetic at the worst moment.
 * Without a zone (a page queued before facts carried one) the time is given in UTC, labelled, so it cannot be
 * misread as local.
 */
export function readableTime(ms: number, timeZone = 'UTC'): string {
  const options: Intl.DateTimeFormatOptions = {
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    hour: 'numeric',
    minute: '2-digit',
    hour12: true,
    timeZoneName: 'short',
  };
  let parts: Intl.DateTimeFormatPart[];
  try {
    parts = new Intl.DateTimeFormat('en-US', { ...options, timeZone }).formatToParts(ms);
  } catch {
    parts = new Intl.DateTimeFormat('en-US', { ...options, timeZone: 'UTC' }).formatToParts(ms);
  }
  const p = (type: Intl.DateTimeFormatPartTypes) => parts.find((x) => x.type === type)?.value ?? '';
  return `${p('weekday')} ${p('day')} ${p('month')}, ${p('hour')}:${p('minute')} ${p('dayPeriod')} ${p('timeZoneName')}`;
}
