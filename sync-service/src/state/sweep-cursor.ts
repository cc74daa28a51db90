import type { Redis } from 'ioredis';
import type { Keys } from './keys';

/**
 * Where the missed-webhook sweep got to, per portal: the newest modification it saw (epoch ms), and how far its
 * audit of tracked deals has come round the portal's tracked set (an SSCAN cursor).
 */
export class SweepCursorStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  async get(portalId: string): Promise<number | null> {
    const raw = await this.redis.get(this.keys.sweepCursor(portalId));
    const n = raw === null ? NaN : Number(raw);
    // An unreadable cursor restarts from the caller's default lookback rather than stopping the sweep.
    return Number.isSafeInteger(n) && n >= 0 ? n : null;
  }

  /** Only moves forward, so a slow sweep finishing late cannot rewind a newer one. */
  async advance(portalId: string, toMs: number): Promise<number> {
    const result = await this.redis.eval(
      `local cur = tonumber(redis.call('GET', KEYS[1]) or '-1') or -1
       if tonumber(ARGV[1]) > cur then redis.call('SET', KEYS[1], ARGV[1]) return tonumber(ARGV[1]) end
       return cur`,
      1,
      this.keys.sweepCursor(portalId),
      String(Math.floor(toMs)),
    );
    return Number(result);
  }

  /** The audit's SSCAN cursor; '0' (a new round) when there is none or it cannot be read as one. */
  async auditCursor(portalId: string): Promise<string> {
    const raw = await this.redis.get(this.keys.sweepAuditCursor(portalId));
    return raw !== null && /^\d{1,20}$/.test(raw) ? raw : '0';
  }

  async setAuditCursor(portalId: string, cursor: string): Promise<void> {
    await this.redis.set(this.keys.sweepAuditCursor(portalId), cursor);
  }
}
