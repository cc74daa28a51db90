import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { installKeys, type InstallKeys } from './keys';

/** 32 random bytes, base64url: unguessable, and safe inside a key name and a URL. */
const STATE_FORMAT = /^[A-Za-z0-9_-]{43}$/;

/**
 * The OAuth `state` parameter: minted for each authorize redirect, accepted once, within `ttlMs`. A callback
 * carrying any other state was not started here (CSRF, a replayed link, or an install abandoned too long ago).
 */
export class OAuthStateStore {
  private readonly keys: InstallKeys;

  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly ttlMs: number = 10 * 60_000,
  ) {
    this.keys = installKeys(prefix);
  }

  async issue(): Promise<string> {
    const state = randomBytes(32).toString('base64url');
    await this.redis.set(this.keys.oauthState(state), '1', 'PX', this.ttlMs, 'NX');
    return state;
  }

  /** True exactly once per issued state; GETDEL makes two racing callbacks unable to both succeed. */
  async consume(state: string): Promise<boolean> {
    if (!STATE_FORMAT.test(state)) return false;
    return (await this.redis.getdel(this.keys.oauthState(state))) !== null;
  }
}
