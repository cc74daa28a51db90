import { createHash } from 'node:crypto';

/**
 * TOKEN_ENCRYPTION_KEY: one or more comma-separated 32-byte keys (64 hex digits, or base64 / base64url). The first
 * encrypts; the rest only decrypt, so a key can be rotated by prepending the new one and dropping the old one once
 * every portal's tokens were rewritten (each refresh, at most ~30 minutes apart, re-encrypts with the first key).
 */

export type EncryptionKey = { id: string; key: Buffer };
export type KeyRing = { current: EncryptionKey; byId: ReadonlyMap<string, EncryptionKey> };

export class EncryptionKeyError extends Error {
  override readonly name = 'EncryptionKeyError';
}

const HEX = /^[0-9a-fA-F]{64}$/;
const BASE64 = /^[A-Za-z0-9+/]{43}=?$/;
const BASE64URL = /^[A-Za-z0-9_-]{43}=?$/;

function decodeOne(text: string, position: number): Buffer {
  // Messages name the position, never the text: a secret pasted into this variable must not reach a log.
  const where = `key ${position}`;
  let key: Buffer;
  if (HEX.test(text)) key = Buffer.from(text, 'hex');
  else if (BASE64.test(text)) key = Buffer.from(text, 'base64');
  else if (BASE64URL.test(text)) key = Buffer.from(text, 'base64url');
  else
    throw new EncryptionKeyError(
      `${where}: expected 32 random bytes as 64 hex digits or 44 base64 characters (e.g. \`openssl rand -base64 32\`)`,
    );
  if (key.length !== 32)
    throw new EncryptionKeyError(`${where}: decodes to ${key.length} bytes, expected 32`);
  return key;
}

/**
 * Stored next to each blob so the right key is found after rotation. A hash of a random 256-bit key says nothing
 * useful about it, and deriving the id means operators never have to name keys.
 */
export function keyId(key: Buffer): string {
  return createHash('sha256').update('stagekeeper-token-key-id\0').update(key).digest('hex').slice(0, 12);
}

export function parseKeyRing(raw: string): KeyRing {
  const parts = raw.split(',').map((p) => p.trim());
  if (parts.length === 0 || parts.some((p) => p === ''))
    throw new EncryptionKeyError('expected one or more comma-separated keys, none empty');
  const keys = parts.map((p, i) => {
    const key = decodeOne(p, i + 1);
    return { id: keyId(key), key };
  });
  const byId = new Map<string, EncryptionKey>();
  for (const k of keys) {
    if (byId.has(k.id)) throw new EncryptionKeyError('the same key is listed twice');
    byId.set(k.id, k);
  }
  return { current: keys[0]!, byId };
}

/** For config validation: the problem in one sentence, or null. */
export function keyRingProblem(raw: string): string | null {
  try {
    parseKeyRing(raw);
    return null;
  } catch (err) {
    if (err instanceof EncryptionKeyError) return err.message;
    throw err;
  }
}
