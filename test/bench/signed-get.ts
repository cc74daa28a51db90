/**
 * A signed GET as hubspot.fetch sends it, for the benches' card and scorecard reads; imports nothing of the
 * service, so a reader process (card-reader-child.ts) stays light.
 */
import { createHmac } from 'node:crypto';

/** A GET as hubspot.fetch sends it: portal and user appended to the URL, the whole URL signed with v3. */
export async function signedGet(
  serviceUrl: string,
  secret: string,
  portalId: string,
  pathAndQuery: string,
): Promise<{ status: number; body: unknown; headers: Headers }> {
  const sep = pathAndQuery.includes('?') ? '&' : '?';
  const url = `${serviceUrl}${pathAndQuery}${sep}userId=1001&userEmail=rep%40clinic.test&appId=1&portalId=${portalId}`;
  const ts = String(Date.now());
  const sig = createHmac('sha256', secret)
    .update(`GET${url.replace('%40', '@')}${ts}`)
    .digest('base64');
  const res = await fetch(url, {
    headers: { 'X-HubSpot-Signature-v3': sig, 'X-HubSpot-Request-Timestamp': ts },
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: kept as text for the error message
  }
  return { status: res.status, body, headers: res.headers };
}
