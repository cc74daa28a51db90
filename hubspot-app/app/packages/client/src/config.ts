/**
 * Origin of the Stagekeeper service. PLACEHOLDER: `npm run app:set-origin -- https://your.origin`
 * sets it here (the card, settings and app pages all read this one file), in app-hsmeta.json
 * (permittedUrls.fetch, redirectUrls) and webhooks-hsmeta.json (targetUrl); project.test.ts fails if they disagree.
 * It is a constant because HubSpot only lets hubspot.fetch reach origins listed at upload time.
 */
export const SERVICE_URL = 'https://stagekeeper.example.com';
