import type { Redis } from 'ioredis';
import { z } from 'zod';
import { redisKeys, type Keys } from '../state/keys';

/**
 * The deal's paging trail: one record per page (deal, stage entry, level), updated as it is held, sent, fails or
 * resolves. The card shows it; the page worker reads it to never send the same page twice.
 */

export const PageStatus = z.enum(['held', 'queued', 'sent', 'failed', 'no_channel', 'resolved']);
export type PageStatus = z.infer<typeof PageStatus>;

export const PageRecord = z.object({
  key: z.string(),
  entryId: z.string(),
  level: z.number().int().positive(),
  stage: z.string(),
  /** The channel id used (or asked for); null when the portal has none. */
  channel: z.string().nullable(),
  kind: z.enum(['slack', 'teams', 'pagerduty', 'webhook']).nullable(),
  status: PageStatus,
  notBefore: z.number(),
  updatedAt: z.number(),
  attempts: z.number().int().nonnegative(),
  sentAt: z.number().nullable(),
  resolvedAt: z.number().nullable(),
  resolvedWhy: z.string().nullable(),
  /** The status a resolved page had before (sent, held, failed...), so the card can say "resolved, never sent". */
  before: PageStatus.nullable(),
  /** A code (channel_not_found, rate_limited, http_503), never a service's body. */
  error: z.string().nullable(),
  dedupKey: z.string().nullable(),
});
export type PageRecord = z.infer<typeof PageRecord>;

/** Trails outlive the visit for the card's history, not forever. */
const TRAIL_TTL_S = 180 * 24 * 3600;

export class PageTrail {
  private readonly keys: Keys;
  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.keys = redisKeys(prefix);
  }

  async get(portalId: string, dealId: string, key: string): Promise<PageRecord | undefined> {
    const raw = await this.redis.hget(this.keys.notifyTrail(portalId, dealId), key);
    return raw === null ? undefined : parse(raw);
  }

  async list(portalId: string, dealId: string): Promise<PageRecord[]> {
    const raw = await this.redis.hvals(this.keys.notifyTrail(portalId, dealId));
    return raw
      .flatMap((r) => parse(r) ?? [])
      .sort((a, b) => a.updatedAt - b.updatedAt || a.key.localeCompare(b.key));
  }

  async put(portalId: string, dealId: string, record: PageRecord): Promise<void> {
    const key = this.keys.notifyTrail(portalId, dealId);
    await this.redis.multi().hset(key, record.key, JSON.stringify(record)).expire(key, TRAIL_TTL_S).exec();
  }

  /** Writes the record only if the page has none yet (a replayed decision must not reset a sent page). */
  async create(portalId: string, dealId: string, record: PageRecord): Promise<boolean> {
    const key = this.keys.notifyTrail(portalId, dealId);
    const [[, created] = [null, 0]] = ((await this.redis
      .multi()
      .hsetnx(key, record.key, JSON.stringify(record))
      .expire(key, TRAIL_TTL_S)
      .exec()) ?? []) as [Error | null, number][];
    return created === 1;
  }
}

function parse(raw: string): PageRecord | undefined {
  try {
    const r = PageRecord.safeParse(JSON.parse(raw));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}
