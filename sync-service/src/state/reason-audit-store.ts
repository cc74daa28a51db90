import type { BreachReason } from '@stagekeeper/shared';
import type { Redis } from 'ioredis';
import { redisKeys, type Keys } from './keys';

export type ReasonAudit = {
  at: number;
  dealId: string;
  entryId: string;
  /** The reason set (the "to" of the correction). */
  reason: BreachReason;
  /** What the breach said before (optional: entries written before it was recorded). */
  from?: BreachReason | null;
  /** The breach was of a visit that had already ended (corrected from the card's breach history). */
  past?: boolean;
  userId: string | null;
  userEmail: string | null;
};

export interface ReasonAuditLog {
  record(portalId: string, entry: ReasonAudit): Promise<void>;
}

/** Enough to answer "who changed this" for months of card use without the list growing forever. */
const KEEP = 5_000;

/**
 * Who set which breach reason, per portal, newest first. Kept out of the logs on purpose: a rep's e-mail is
 * personal data, and the logs carry only the HubSpot user id.
 */
export class RedisReasonAuditLog implements ReasonAuditLog {
  private readonly keys: Keys;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.keys = redisKeys(prefix);
  }

  key(portalId: string): string {
    return this.keys.reasonAudit(portalId);
  }

  async record(portalId: string, entry: ReasonAudit): Promise<void> {
    const key = this.key(portalId);
    await this.redis
      .multi()
      .lpush(key, JSON.stringify(entry))
      .ltrim(key, 0, KEEP - 1)
      .exec();
  }

  async recent(portalId: string, count = 20): Promise<ReasonAudit[]> {
    const raw = await this.redis.lrange(this.key(portalId), 0, count - 1);
    return raw.map((r) => JSON.parse(r) as ReasonAudit);
  }
}
