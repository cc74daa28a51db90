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

/**
 * Asked for, not required: a portal with HubSpot's Sensitive Data turned on keeps clinical properties behind it.
 * Read only: Stagekeeper writes only its own (non-sensitive) properties. The `.v2` name is the one HubSpot's
 * API reference lists for CRM endpoints (its Sensitive Data guide prints it without `.v2`: confirm on a portal).
 */
export const OPTIONAL_SCOPES: readonly string[] = ['crm.objects.deals.sensitive.read.v2'];

/** Path of the OAuth callback under the service's public URL; must match `auth.redirectUrls` in app-hsmeta.json. */
export const CALLBACK_PATH = '/oauth/callback';

export function missingScopes(granted: readonly string[] | null): string[] {
  if (granted === null) return [];
  const have = new Set(granted);
  return REQUIRED_SCOPES.filter((s) => !have.has(s));
}
