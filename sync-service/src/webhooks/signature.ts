import { createHmac, timingSafeEqual } from 'node:crypto';

/** HubSpot rejects (and so do we) signed requests older than this; see reference §4 v3. */
export const MAX_SIGNATURE_AGE_MS = 300_000;

export const SIGNATURE_HEADER = 'x-hubspot-signature-v3';
export const TIMESTAMP_HEADER = 'x-hubspot-request-timestamp';

/**
 * HubSpot signs the URI after decoding exactly these escapes (and no others); decoding more, or fewer,
 * breaks verification for URLs containing them (e.g. the `?` and `:` of query params fetch appends).
 */
const URI_DECODINGS: Record<string, string> = {
  '%3A': ':',
  '%2F': '/',
  '%3F': '?',
  '%40': '@',
  '%21': '!',
  '%24': '$',
  '%27': "'",
  '%28': '(',
  '%29': ')',
  '%2A': '*',
  '%2C': ',',
  '%3B': ';',
};

export function decodeSignedUri(uri: string): string {
  return uri.replace(/%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)/gi, (m) => URI_DECODINGS[m.toUpperCase()]!);
}

export type SignatureFailure = 'missing_header' | 'bad_timestamp' | 'stale' | 'mismatch';
export type SignatureResult = { ok: true } | { ok: false; reason: SignatureFailure };

export type SignedRequest = {
  method: string;
  /** Full public URL HubSpot called (scheme, host, path, query). */
  uri: string;
  /** Exact bytes received; empty for GET. */
  rawBody: Buffer | string;
  signature: string | undefined;
  timestamp: string | undefined;
};

export function computeSignatureV3(
  secret: string,
  method: string,
  uri: string,
  rawBody: Buffer | string,
  timestamp: string,
): string {
  // Fed in pieces so the body's bytes are hashed as received, never re-encoded through a JS string.
  return createHmac('sha256', secret)
    .update(`${method.toUpperCase()}${decodeSignedUri(uri)}`, 'utf8')
    .update(typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : rawBody)
    .update(timestamp, 'utf8')
    .digest('base64');
}

/** v3 verification; a failure says why, so logs can tell a clock problem from a wrong secret. */
/** The checks that need only the headers, so a request failing them is refused before its body is read. */
export function checkSignatureHeaders(
  signature: string | undefined,
  timestamp: string | undefined,
  now: number,
): SignatureResult {
  if (!signature || !timestamp) return { ok: false, reason: 'missing_header' };
  if (!/^\d{1,16}$/.test(timestamp)) return { ok: false, reason: 'bad_timestamp' };
  // Future timestamps count too: a captured request replayed with a forged-ahead clock must not live longer.
  if (Math.abs(now - Number(timestamp)) > MAX_SIGNATURE_AGE_MS) return { ok: false, reason: 'stale' };
  return { ok: true };
}

export function verifySignatureV3(
  secret: string,
  req: SignedRequest,
  now: number = Date.now(),
): SignatureResult {
  const { signature, timestamp } = req;
  const headers = checkSignatureHeaders(signature, timestamp, now);
  if (!headers.ok) return headers;
  if (!signature || !timestamp) return { ok: false, reason: 'missing_header' };
  const expected = Buffer.from(
    computeSignatureV3(secret, req.method, req.uri, req.rawBody, timestamp),
    'utf8',
  );
  const received = Buffer.from(signature, 'utf8');
  // timingSafeEqual needs equal lengths; a length difference reveals nothing an attacker does not know.
  if (expected.length !== received.length || !timingSafeEqual(expected, received))
    return { ok: false, reason: 'mismatch' };
  return { ok: true };
}
