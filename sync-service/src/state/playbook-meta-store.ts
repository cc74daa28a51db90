import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { redisKeys, type Keys } from './keys';

export type PlaybookMeta = { updatedAt: number; updatedBy: string | null };

/** Held while a save checks `baseVersion` and writes, so two admins saving from the same version cannot both win. */
const LOCK_MS = 10_000;

const releaseScript = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/**
 * Who saved each playbook version and when (PlaybookStore keeps only the content), plus the per-portal save lock.
 * Versions seeded by the CLI have no entry: the page shows them without an author.
 */
export class PlaybookMetaStore {
  private readonly keys: Keys;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.keys = redisKeys(prefix);
  }

  async get(portalId: string, version: number): Promise<PlaybookMeta | null> {
    const raw = await this.redis.hget(this.keys.playbookMeta(portalId), String(version));
    if (raw === null) return null;
    try {
      const v = JSON.parse(raw) as Partial<PlaybookMeta>;
      if (typeof v.updatedAt !== 'number') return null;
      return { updatedAt: v.updatedAt, updatedBy: typeof v.updatedBy === 'string' ? v.updatedBy : null };
    } catch {
      return null;
    }
  }

  async set(portalId: string, version: number, meta: PlaybookMeta): Promise<void> {
    await this.redis.hset(this.keys.playbookMeta(portalId), String(version), JSON.stringify(meta));
  }

  /** Runs `fn` holding the portal's save lock; `ran: false` when another save holds it. */
  async withSaveLock<T>(
    portalId: string,
    fn: () => Promise<T>,
  ): Promise<{ ran: true; value: T } | { ran: false }> {
    const key = this.keys.playbookSaveLock(portalId);
    const token = randomUUID();
    const ok = await this.redis.set(key, token, 'PX', LOCK_MS, 'NX');
    if (ok !== 'OK') return { ran: false };
    try {
      return { ran: true, value: await fn() };
    } finally {
      await this.redis.eval(releaseScript, 1, key, token);
    }
  }
}
