import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Signing of the generic webhook (a team's own tooling), in the shape Stripe and Slack made familiar:
 *
 *   X-Stagekeeper-Timestamp: <unix seconds>
 *   X-Stagekeeper-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>
 *
 * The receiver recomputes the HMAC over the raw body bytes, compares in constant time and refuses timestamps
 * more than 5 minutes from its clock (replays). `verifyWebhookSignature` is that check, for receivers in Node.
 */

export const TIMESTAMP_HEADER = 'X-Stagekeeper-Timestamp';
export const SIGNATURE_HEADER = 'X-Stagekeeper-Signature';
export const SIGNATURE_TOLERANCE_S = 300;

const mac = (secret: string, timestamp: string, body: string) =>
  createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex');

export function signWebhook(secret: string, body: string, nowMs: number): Record<string, string> {
  const timestamp = String(Math.floor(nowMs / 1000));
  return { [TIMESTAMP_HEADER]: timestamp, [SIGNATURE_HEADER]: `v1=${mac(secret, timestamp, body)}` };
}

export type SignatureVerdict = { ok: true } | { ok: false; reason: 'missing' | 'stale' | 'mismatch' };

export function verifyWebhookSignature(
  secret: string,
  body: string,
  headers: { timestamp: string | undefined; signature: string | undefined },
  nowMs: number,
): SignatureVerdict {
  const { timestamp, signature } = headers;
  if (!timestamp || !signature || !/^\d+$/.test(timestamp)) return { ok: false, reason: 'missing' };
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > SIGNATURE_TOLERANCE_S)
    return { ok: false, reason: 'stale' };
  const expected = Buffer.from(`v1=${mac(secret, timestamp, body)}`, 'utf8');
  const given = Buffer.from(signature, 'utf8');
  return expected.length === given.length && timingSafeEqual(expected, given)
    ? { ok: true }
    : { ok: false, reason: 'mismatch' };
}
