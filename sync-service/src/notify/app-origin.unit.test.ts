import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../config';

const SANDBOX = { SANDBOX: 'true' };

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (e) {
    if (e instanceof ConfigError) return e.lines;
    throw e;
  }
}

describe('HUBSPOT_APP_ORIGIN (where deal links in pages point)', () => {
  it('defaults to https://app.hubspot.com', () => {
    expect(loadConfig(SANDBOX).hubspotAppOrigin).toBe('https://app.hubspot.com');
    expect(loadConfig({ ...SANDBOX, HUBSPOT_APP_ORIGIN: '' }).hubspotAppOrigin).toBe(
      'https://app.hubspot.com',
    );
  });

  it("takes an EU-hosted account's origin, with or without a trailing slash", () => {
    expect(
      loadConfig({ ...SANDBOX, HUBSPOT_APP_ORIGIN: 'https://app-eu1.hubspot.com' }).hubspotAppOrigin,
    ).toBe('https://app-eu1.hubspot.com');
    expect(
      loadConfig({ ...SANDBOX, HUBSPOT_APP_ORIGIN: ' https://app-eu1.hubspot.com/ ' }).hubspotAppOrigin,
    ).toBe('https://app-eu1.hubspot.com');
  });

  it.each([
    'http://app.hubspot.com',
    'https://app.hubspot.com/contacts/123',
    'https://app.hubspot.com?x=1',
    'https://evil.example.com',
    'https://app.hubspot.com.evil.example.com',
    'https://user:pw@app.hubspot.com',
    'app-eu1.hubspot.com',
  ])('refuses %s, naming the variable and the accepted forms without echoing the value', (value) => {
    const lines = problems({ ...SANDBOX, HUBSPOT_APP_ORIGIN: value });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^HUBSPOT_APP_ORIGIN: expected HubSpot's app origin: https:\/\/app.hubspot.com, or https:\/\/app-eu1.hubspot.com/,
    );
    if (value.includes('evil')) expect(lines[0]).not.toContain('evil');
  });
});
