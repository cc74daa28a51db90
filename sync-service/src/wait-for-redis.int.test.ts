import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { silentLogger } from './log';
import { waitForRedis } from './stack';

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

describe('waitForRedis', () => {
  it('waits for a Redis that comes up late instead of failing start-up', async () => {
    const port = await freePort();
    const redis = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 3, retryStrategy: () => 50 });
    redis.on('error', () => undefined);
    const dir = mkdtempSync(path.join(tmpdir(), 'sk-wait-'));
    // Our own redis-server on its own port, started after the wait began.
    const later = setTimeout(
      () =>
        spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', ''], {
          stdio: 'ignore',
        }),
      700,
    );
    const started = Date.now();
    try {
      await waitForRedis(redis, silentLogger, 15_000);
      expect(Date.now() - started).toBeGreaterThanOrEqual(600);
      expect(await redis.ping()).toBe('PONG');
    } finally {
      clearTimeout(later);
      await redis.call('SHUTDOWN', 'NOSAVE').catch(() => undefined);
      redis.disconnect();
    }
  });

  it('gives up with a clear error when Redis never answers', async () => {
    const port = await freePort();
    const redis = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1, retryStrategy: () => 50 });
    redis.on('error', () => undefined);
    await expect(waitForRedis(redis, silentLogger, 500)).rejects.toThrow(/Redis did not answer within/);
    redis.disconnect();
  });
});
