/**
 * Origin of the Stagekeeper service. PLACEHOLDER: replace it in cards/, settings/ and
 * pages/ lib/config.ts and in app-hsmeta.json (permittedUrls.fetch, redirectUrls) plus
 * webhooks-hsmeta.json (targetUrl) before uploading; project.test.ts fails if they disagree.
 * It is a constant because HubSpot only lets hubspot.fetch reach origins listed at upload time.
 */
export const SERVICE_URL = 'https://stagekeeper.example.com';
