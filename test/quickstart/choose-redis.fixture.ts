/**
 * Runs chooseRedis with nothing configured and reports what it chose, as one JSON line. Started by
 * redis-bootstrap.test.ts inside a private network namespace, where nothing answers on 127.0.0.1:6379.
 */
import { Redis } from 'ioredis';
import { chooseRedis } from '@stagekeeper/sync-service/redis-bootstrap';

const dataDir = process.argv[2]!;
const ping = async (url: string) => {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return await r.ping();
  } catch {
    return null;
  } finally {
    r.disconnect();
  }
};

try {
  const choice = await chooseRedis({}, dataDir);
  const pong = await ping(choice.url);
  await choice.stop();
  const afterStop = await ping(choice.url);
  process.stdout.write(`${JSON.stringify({ source: choice.source, pong, afterStop })}\n`);
} catch (err) {
  process.stdout.write(
    `${JSON.stringify({ error: (err as Error).name, message: (err as Error).message })}\n`,
  );
}
