import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { KeyRing } from './encryption-key';

/**
 * Secrets at rest (OAuth tokens, paging channel secrets): AES-256-GCM under TOKEN_ENCRYPTION_KEY, a fresh 96-bit IV
 * per write, and the purpose and portal id in the additional data, so a blob copied under another portal's (or
 * another purpose's) key fails authentication instead of handing one tenant's secret to another.
 *
 * Blob: `sk1.<keyId>.<iv>.<ciphertext>.<tag>` (base64url parts). The format version and key id are covered by
 * the additional data too, so neither can be swapped without detection.
 */

const FORMAT = 'sk1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const B64URL = /^[A-Za-z0-9_-]+$/;

export type UnsealFailure = 'malformed' | 'unknown_key' | 'auth_failed';

export class UnsealError extends Error {
  override readonly name = 'UnsealError';
  constructor(readonly reason: UnsealFailure) {
    super(`sealed blob cannot be opened (${reason})`);
  }
}

const aad = (purpose: string, portalId: string, kid: string) =>
  Buffer.from(`stagekeeper/${purpose}/${FORMAT}/${kid}/portal:${portalId}`, 'utf8');

export function seal(ring: KeyRing, purpose: string, portalId: string, plain: Buffer): string {
  const { id, key } = ring.current;
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad(purpose, portalId, id));
  const ct = Buffer.concat([cipher.update(plain), cipher.final()]);
  return [
    FORMAT,
    id,
    iv.toString('base64url'),
    ct.toString('base64url'),
    cipher.getAuthTag().toString('base64url'),
  ].join('.');
}

export function unseal(ring: KeyRing, purpose: string, portalId: string, blob: string): Buffer {
  const parts = blob.split('.');
  if (parts.length !== 5 || parts[0] !== FORMAT || !parts.slice(1).every((p) => B64URL.test(p)))
    throw new UnsealError('malformed');
  const [, kid, ivText, ctText, tagText] = parts as [string, string, string, string, string];
  const entry = ring.byId.get(kid);
  if (!entry) throw new UnsealError('unknown_key');
  const iv = Buffer.from(ivText, 'base64url');
  const tag = Buffer.from(tagText, 'base64url');
  // Node accepts shorter tags unless told otherwise; a truncated tag would weaken authentication.
  if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw new UnsealError('malformed');
  try {
    const decipher = createDecipheriv('aes-256-gcm', entry.key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad(purpose, portalId, kid));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(Buffer.from(ctText, 'base64url')), decipher.final()]);
  } catch {
    throw new UnsealError('auth_failed');
  }
}
