/**
 * The scopes the install redirect asks for. They must equal `auth.requiredScopes` / `optionalScopes` in
 * hubspot-app/app/app-hsmeta.json (HubSpot refuses an authorize URL whose scopes differ from the app's);
 * scopes.unit.test.ts fails when the two drift. Kept as a constant because hubspot-app is not shipped with the service.
 */
export const REQUIRED_SCOPES = [
  'oauth',
  'crm.objects.deals.read',
  'crm.objects.deals.write',
  'crm.objects.contacts.read',
  'crm.objects.contacts.write',
  'crm.objects.owners.read',
  'crm.schemas.deals.write',
] as const;

export const OPTIONAL_SCOPES: readonly string[] = [];

/** Path of the OAuth callback under the service's public URL; must match `auth.redirectUrls` in app-hsmeta.json. */
export const CALLBACK_PATH = '/oauth/callback';

export function missingScopes(granted: readonly string[] | null): string[] {
  if (granted === null) return [];
  const have = new Set(granted);
  return REQUIRED_SCOPES.filter((s) => !have.has(s));
}
