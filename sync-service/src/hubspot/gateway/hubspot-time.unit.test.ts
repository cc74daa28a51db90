import { describe, expect, it } from 'vitest';
import { parseHubSpotTime } from './hubspot-time';

describe('parseHubSpotTime', () => {
  it('reads ISO (what v3 returns) and epoch-ms strings (what HubSpot accepts)', () => {
    expect(parseHubSpotTime('2026-03-02T14:00:00.000Z')).toBe(Date.parse('2026-03-02T14:00:00.000Z'));
    expect(parseHubSpotTime('1772460000000')).toBe(1772460000000);
    expect(parseHubSpotTime('')).toBeNull();
    expect(parseHubSpotTime(null)).toBeNull();
    expect(parseHubSpotTime(undefined)).toBeNull();
    expect(parseHubSpotTime('not a date')).toBeNull();
  });
});
