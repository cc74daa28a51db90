import type { Redis } from 'ioredis';
import { redisKeys } from './keys';

/**
 * Deletes every key under `prefix:` (SCAN in pages, never FLUSHDB: the Redis may be shared). Used for the
 * sandbox's own prefix at start and by tests cleaning up after themselves. Returns how many keys went.
 */
export async function deleteKeysUnder(redis: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let removed = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', redisKeys(prefix).everyKey(), 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) removed += await redis.del(...keys);
  } while (cursor !== '0');
  return removed;
}
