import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { authorizeUrl } from './oauth';
import { CALLBACK_PATH, missingScopes, OPTIONAL_SCOPES, REQUIRED_SCOPES } from './scopes';

const appMeta = JSON.parse(
  readFileSync(new URL('../../../hubspot-app/app/app-hsmeta.json', import.meta.url), 'utf8'),
) as {
  config: { auth: { requiredScopes: string[]; optionalScopes: string[]; redirectUrls: string[] } };
};

describe('scopes and redirect URL match the HubSpot app definition', () => {
  it('asks for exactly the scopes app-hsmeta.json requires and allows', () => {
    expect([...REQUIRED_SCOPES]).toEqual(appMeta.config.auth.requiredScopes);
    expect([...OPTIONAL_SCOPES]).toEqual(appMeta.config.auth.optionalScopes);
  });

  it('every redirect URL registered with HubSpot ends in the callback path', () => {
    expect(appMeta.config.auth.redirectUrls.length).toBeGreaterThan(0);
    for (const u of appMeta.config.auth.redirectUrls) expect(new URL(u).pathname).toBe(CALLBACK_PATH);
  });
});

describe('authorizeUrl', () => {
  it('carries client id, redirect URI, space-separated scopes and the state', () => {
    const url = new URL(
      authorizeUrl({
        clientId: 'cid-1',
        redirectUri: 'https://sk.example.com/oauth/callback',
        state: 'st4te',
      }),
    );
    expect(`${url.origin}${url.pathname}`).toBe('https://app.hubspot.com/oauth/authorize');
    expect(url.searchParams.get('client_id')).toBe('cid-1');
    expect(url.searchParams.get('redirect_uri')).toBe('https://sk.example.com/oauth/callback');
    expect(url.searchParams.get('scope')!.split(' ')).toEqual([...REQUIRED_SCOPES]);
    expect(url.searchParams.has('optional_scope')).toBe(OPTIONAL_SCOPES.length > 0);
    expect(url.searchParams.get('state')).toBe('st4te');
  });
});

describe('missingScopes', () => {
  it('lists required scopes the token lacks; unknown scopes (static tokens) report none', () => {
    expect(missingScopes(['oauth', 'crm.objects.deals.read'])).toEqual(
      REQUIRED_SCOPES.filter((s) => !['oauth', 'crm.objects.deals.read'].includes(s)),
    );
    expect(missingScopes([...REQUIRED_SCOPES, 'extra'])).toEqual([]);
    expect(missingScopes(null)).toEqual([]);
  });
});
