/** HubSpot datetimes arrive as ISO strings in v3, but epoch-ms strings are accepted everywhere: read both. */
export function parseHubSpotTime(value: string | null | undefined): number | null {
  if (value === null || value === undefined || value === '') return null;
  if (/^\d+$/.test(value)) return Number(value);
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : ms;
}
