import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Keys } from '../state/keys';
import { MAX_SIGNATURE_AGE_MS } from '../webhooks/signature';

/**
 * A signature's claim as Redis holds it (`SET key 1 PX ttlMs NX`), for a caller that takes it inside a script of its
 * own (queue/reconcile.ts enqueueDelivery); `take` takes it alone.
 */
export type ReplayClaim = { key: string; ttlMs: number; take(): Promise<boolean> };

/**
 * Signed requests already answered, so a captured one cannot be sent again within the signature window.
 * Timestamps are accepted up to 5 minutes either side of now, so a signature can verify for 10 minutes: each
 * claim lives that long (TTL), and only verified signatures are claimed, so the store is bounded by the
 * signed traffic of 10 minutes. Keys hold a hash of the signature, never the signature itself.
 */
export class ReplayStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly ttlMs = 2 * MAX_SIGNATURE_AGE_MS,
  ) {}

  /** True the first time a signature is seen within the window; false for a replay. */
  async claim(signature: string): Promise<boolean> {
    return (await this.redis.set(this.key(signature), '1', 'PX', this.ttlMs, 'NX')) === 'OK';
  }

  /** The claim of `signature`, to be taken with other writes in one round trip, or alone. */
  claimOf(signature: string): ReplayClaim {
    return { key: this.key(signature), ttlMs: this.ttlMs, take: () => this.claim(signature) };
  }

  /** Gives a claim back when the request was not carried out (so HubSpot's retry of it is not refused). */
  async release(signature: string): Promise<void> {
    await this.redis.del(this.key(signature));
  }

  private key(signature: string): string {
    return this.keys.replay(createHash('sha256').update(signature).digest('hex').slice(0, 40));
  }
}
