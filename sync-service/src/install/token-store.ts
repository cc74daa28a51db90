import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { OAuthTokens, TokenStore } from '../hubspot/client';
import type { Logger } from '../log';
import { corruptRecords } from '../metrics';
import { parseKeyRing, type KeyRing } from './encryption-key';
import { installKeys, type InstallKeys } from './keys';

/**
 * OAuth tokens at rest: AES-256-GCM, a fresh 96-bit IV per write, and the portal id in the additional data so a
 * blob copied under another portal's key fails authentication instead of handing portal A's token to portal B.
 *
 * Blob: `sk1.<keyId>.<iv>.<ciphertext>.<tag>` (base64url parts). The format version and key id are covered by
 * the additional data too, so neither can be swapped without detection.
 */

const FORMAT = 'sk1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const B64URL = /^[A-Za-z0-9_-]+$/;

export type UnreadableReason = 'malformed' | 'unknown_key' | 'auth_failed' | 'bad_payload';

/**
 * Thrown by `get` so a portal whose blob cannot be read fails its own requests with a clear cause, while every
 * other portal keeps working; nothing retries it in a tight loop (jobs back off, the sweep moves on).
 */
export class StoredTokensUnreadableError extends Error {
  override readonly name = 'StoredTokensUnreadableError';
  constructor(
    readonly portalId: string,
    readonly reason: UnreadableReason,
  ) {
    super(
      `stored OAuth tokens for portal ${portalId} cannot be read (${reason}): ` +
        (reason === 'unknown_key'
          ? 'they were written with a key TOKEN_ENCRYPTION_KEY no longer lists; add it back, or reinstall the app in that portal'
          : 'reinstall the app in that portal to store fresh tokens'),
    );
  }
}

const aad = (portalId: string, kid: string) => Buffer.from(`stagekeeper/oauth-tokens/${FORMAT}/${kid}/portal:${portalId}`, 'utf8');

export function encryptTokens(ring: KeyRing, portalId: string, tokens: OAuthTokens): string {
  const { id, key } = ring.current;
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad(portalId, id));
  const plain = Buffer.from(JSON.stringify({ a: tokens.accessToken, r: tokens.refreshToken, e: tokens.expiresAt }), 'utf8');
  const ct = Buffer.concat([cipher.update(plain), cipher.final()]);
  return [FORMAT, id, iv.toString('base64url'), ct.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
}

export function decryptTokens(ring: KeyRing, portalId: string, blob: string): OAuthTokens {
  const fail = (reason: UnreadableReason) => new StoredTokensUnreadableError(portalId, reason);
  const parts = blob.split('.');
  if (parts.length !== 5 || parts[0] !== FORMAT || !parts.slice(1).every((p) => B64URL.test(p))) throw fail('malformed');
  const [, kid, ivText, ctText, tagText] = parts as [string, string, string, string, string];
  const entry = ring.byId.get(kid);
  if (!entry) throw fail('unknown_key');
  const iv = Buffer.from(ivText, 'base64url');
  const tag = Buffer.from(tagText, 'base64url');
  // Node accepts shorter tags unless told otherwise; a truncated tag would weaken authentication.
  if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw fail('malformed');

  let plain: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-gcm', entry.key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad(portalId, kid));
    decipher.setAuthTag(tag);
    plain = Buffer.concat([decipher.update(Buffer.from(ctText, 'base64url')), decipher.final()]);
  } catch {
    throw fail('auth_failed');
  }
  let json: unknown;
  try {
    json = JSON.parse(plain.toString('utf8'));
  } catch {
    throw fail('bad_payload');
  }
  const t = json as { a?: unknown; r?: unknown; e?: unknown };
  if (typeof t.a !== 'string' || typeof t.r !== 'string' || typeof t.e !== 'number' || !t.a || !t.r) throw fail('bad_payload');
  return { accessToken: t.a, refreshToken: t.r, expiresAt: t.e };
}

export type EncryptedRedisTokenStoreOptions = {
  redis: Redis;
  /** The service's key prefix (config.keyPrefix). */
  prefix: string;
  /** TOKEN_ENCRYPTION_KEY's value, or an already parsed ring. */
  keys: string | KeyRing;
  log?: Logger;
};

export class EncryptedRedisTokenStore implements TokenStore {
  private readonly ring: KeyRing;
  private readonly keys: InstallKeys;

  constructor(private readonly opts: EncryptedRedisTokenStoreOptions) {
    this.ring = typeof opts.keys === 'string' ? parseKeyRing(opts.keys) : opts.keys;
    this.keys = installKeys(opts.prefix);
  }

  async get(portalId: string): Promise<OAuthTokens | null> {
    const blob = await this.opts.redis.get(this.keys.tokens(portalId));
    if (blob === null) return null;
    try {
      return decryptTokens(this.ring, portalId, blob);
    } catch (err) {
      if (err instanceof StoredTokensUnreadableError) {
        corruptRecords.inc({ kind: 'oauth_tokens' });
        this.opts.log?.error({ portalId, reason: err.reason }, 'stored OAuth tokens unreadable');
      }
      throw err;
    }
  }

  async set(portalId: string, tokens: OAuthTokens): Promise<void> {
    await this.opts.redis.set(this.keys.tokens(portalId), encryptTokens(this.ring, portalId, tokens));
  }

  async delete(portalId: string): Promise<void> {
    await this.opts.redis.del(this.keys.tokens(portalId));
  }
}
