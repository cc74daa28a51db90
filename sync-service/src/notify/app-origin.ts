import { z } from 'zod';

/**
 * HubSpot's web app origin, which deal links in pages point at. It depends on where the account is hosted:
 * `https://app.hubspot.com` (US), `https://app-eu1.hubspot.com` (EU data centre), and HubSpot names further
 * regions the same way (`app-<region>.hubspot.com`). A link to the wrong one sends the lead to a login page
 * instead of the deal, so the value is checked at start-up.
 */
export const DEFAULT_HUBSPOT_APP_ORIGIN = 'https://app.hubspot.com';

const HOST = /^app(-[a-z]{2,4}\d{0,2})?\.hubspot\.com$/;

function isAppOrigin(text: string): boolean {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return false;
  }
  const originOnly =
    url.pathname === '/' && !url.search && !url.hash && !url.username && !url.password && !url.port;
  return url.protocol === 'https:' && HOST.test(url.hostname) && originOnly;
}

export const HubSpotAppOrigin = z
  .string()
  .trim()
  .refine(
    isAppOrigin,
    "expected HubSpot's app origin: https://app.hubspot.com, or https://app-eu1.hubspot.com for EU-hosted accounts",
  )
  .transform((text) => new URL(text).origin);
