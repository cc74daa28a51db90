import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/** A server-side script run by hash, loaded on first use (and again after a Redis restart flushes it). */
export function luaScript(source: string) {
  const sha = createHash('sha1').update(source).digest('hex');
  const run = async (redis: Redis, keys: string[], args: (string | number | Buffer)[]): Promise<unknown> => {
    try {
      return await redis.evalsha(sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.includes('NOSCRIPT')) throw err;
      return redis.eval(source, keys.length, ...keys, ...args);
    }
  };
  // The hash names the script in MONITOR output (tests tell a poller's idle call from a transition's).
  return Object.assign(run, { sha });
}
