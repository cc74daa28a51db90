import type { Redis } from 'ioredis';
import type { OAuthTokens, TokenStore } from '../hubspot/client';
import type { Logger } from '../log';
import { corruptRecords } from '../metrics';
import { parseKeyRing, type KeyRing } from './encryption-key';
import { redisKeys, type Keys } from '../state/keys';
import { seal, unseal, UnsealError, type UnsealFailure } from './sealed';

/** OAuth tokens at rest: sealed (sealed.ts) under the `oauth-tokens` purpose and the portal id. */
const PURPOSE = 'oauth-tokens';

export type UnreadableReason = UnsealFailure | 'bad_payload';

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

export function encryptTokens(ring: KeyRing, portalId: string, tokens: OAuthTokens): string {
  const plain = Buffer.from(
    JSON.stringify({ a: tokens.accessToken, r: tokens.refreshToken, e: tokens.expiresAt }),
    'utf8',
  );
  return seal(ring, PURPOSE, portalId, plain);
}

export function decryptTokens(ring: KeyRing, portalId: string, blob: string): OAuthTokens {
  const fail = (reason: UnreadableReason) => new StoredTokensUnreadableError(portalId, reason);
  let plain: Buffer;
  try {
    plain = unseal(ring, PURPOSE, portalId, blob);
  } catch (err) {
    if (err instanceof UnsealError) throw fail(err.reason);
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(plain.toString('utf8'));
  } catch {
    throw fail('bad_payload');
  }
  const t = json as { a?: unknown; r?: unknown; e?: unknown };
  if (typeof t.a !== 'string' || typeof t.r !== 'string' || typeof t.e !== 'number' || !t.a || !t.r)
    throw fail('bad_payload');
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
  private readonly keys: Keys;

  constructor(private readonly opts: EncryptedRedisTokenStoreOptions) {
    this.ring = typeof opts.keys === 'string' ? parseKeyRing(opts.keys) : opts.keys;
    this.keys = redisKeys(opts.prefix);
  }

  async get(portalId: string): Promise<OAuthTokens | null> {
    const blob = await this.opts.redis.get(this.keys.oauthTokens(portalId));
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
    await this.opts.redis.set(this.keys.oauthTokens(portalId), encryptTokens(this.ring, portalId, tokens));
  }

  async delete(portalId: string): Promise<void> {
    await this.opts.redis.del(this.keys.oauthTokens(portalId));
  }
}
