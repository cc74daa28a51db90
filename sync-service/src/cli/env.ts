import { Redis } from 'ioredis';
import { ConfigSchema, redisHostPort, type Config } from '../config';
import { CliError } from './io';

/**
 * The service's own configuration schema, without the service's cross-checks: reading a scorecard needs Redis, not
 * the webhook secret the running service insists on.
 */
export function cliConfig(env: NodeJS.ProcessEnv): Config {
  const set = Object.fromEntries(
    Object.entries(env).filter((e): e is [string, string] => typeof e[1] === 'string' && e[1] !== ''),
  );
  const parsed = ConfigSchema.safeParse(set);
  if (!parsed.success)
    // Variable names and rules only: a secret pasted into the wrong variable must not be echoed.
    throw new CliError(
      `invalid environment: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  return parsed.data;
}

/** host:port only; the URL may carry a password. */
export const redisLabel = redisHostPort;

/**
 * A connection that fails fast: the service's client retries forever, which for a one-shot command would hang
 * instead of saying Redis is down.
 */
export async function openRedis(url: string): Promise<Redis> {
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
    connectTimeout: 5_000,
  });
  // connect() only rejects with "Connection is closed."; the socket error (ECONNREFUSED, ENOTFOUND) says why.
  let cause: Error | undefined;
  redis.on('error', (err: Error) => (cause ??= err));
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    const e = (cause ?? err) as NodeJS.ErrnoException;
    const code = e.code ?? e.message;
    throw new CliError(`cannot connect to Redis at ${redisLabel(url)} (${code}); set REDIS_URL`);
  }
  return redis;
}

export async function withRedis<T>(url: string, fn: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = await openRedis(url);
  try {
    return await fn(redis);
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
}
