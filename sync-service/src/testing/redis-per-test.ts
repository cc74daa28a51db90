import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { deletePrefix, testPrefix, testRedis } from './fakes';

/**
 * A test file's Redis, isolated: one connection for the file, a fresh key prefix for each test, and that prefix's
 * keys deleted after it (never a flush: the Redis may be someone else's). Called at the top of a test file, in
 * place of the four hooks each integration test used to spell out.
 */
export function redisPerTest(): { readonly redis: Redis; readonly prefix: string } {
  let redis: Redis | undefined;
  let prefix = '';
  beforeAll(() => {
    redis = testRedis();
  });
  beforeEach(() => {
    prefix = testPrefix();
  });
  afterEach(async () => {
    if (redis) await deletePrefix(redis, prefix);
  });
  afterAll(async () => {
    await redis?.quit();
  });
  return {
    get redis() {
      if (!redis) throw new Error('redisPerTest: Redis is open only while the file runs its tests');
      return redis;
    },
    get prefix() {
      return prefix;
    },
  };
}
