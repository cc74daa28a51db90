import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { redisHostPort } from '@stagekeeper/sync-service/config';
import { onPath, redisAnswers, spawnRedisServer } from '@stagekeeper/sync-service/redis-bootstrap';

/**
 * Vitest global setup: `npm test` on a machine with redis-server installed but not running still passes. The
 * suites use REDIS_URL, else 127.0.0.1:6379; when nothing answers there, a throwaway redis-server (no
 * persistence, files in a temp dir) runs on 6379 for the length of the run. A Redis that answers is used as it is.
 */
export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  const url = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
  if (await redisAnswers(url)) return undefined;
  if (process.env.REDIS_URL)
    throw new Error(
      `the tests need a Redis: nothing answers at ${redisHostPort(url)} (REDIS_URL); start it or unset REDIS_URL`,
    );
  if (!onPath('redis-server'))
    throw new Error(
      'the tests need a Redis: nothing answers on 127.0.0.1:6379 and redis-server is not on the PATH ' +
        '(Debian/Ubuntu: apt-get install redis-server, or bash .ci/ensure-redis.sh; or set REDIS_URL)',
    );
  const dir = mkdtempSync(path.join(tmpdir(), 'sk-test-redis-'));
  const redis = await spawnRedisServer(6379, dir, { appendonly: false });
  process.stdout.write(
    'tests: nothing answered on 127.0.0.1:6379, started a redis-server there for this run\n',
  );
  return async () => {
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}
