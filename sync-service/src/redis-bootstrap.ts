import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { Redis } from 'ioredis';

/**
 * The options of the connection a process's stores and queues share. Auto-pipelining: commands issued in the same
 * tick (a transition's store reads and writes, many deals' at once) go out in one write and come back in one read,
 * instead of a socket write each; blocking, WATCH and pub/sub connections must not use it and are made without it.
 */
export const APP_REDIS_OPTIONS = { maxRetriesPerRequest: 3, enableAutoPipelining: true } as const;

export type RedisChoice = {
  url: string;
  /** How the URL was found, for the start-up story. */
  source: 'REDIS_URL' | 'localhost' | 'spawned';
  /** Stops a Redis this process started; a no-op otherwise. */
  stop(): Promise<void>;
};

export class RedisUnavailableError extends Error {
  constructor() {
    super(
      'No Redis found: REDIS_URL is not set, nothing answers on 127.0.0.1:6379, and redis-server is not on the PATH.\n' +
        '  Install it (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis) or set REDIS_URL.',
    );
    this.name = 'RedisUnavailableError';
  }
}

/** Whether a Redis at `url` answers PING within `timeoutMs`. */
export async function redisAnswers(url: string, timeoutMs = 1_000): Promise<boolean> {
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: timeoutMs,
    retryStrategy: () => null,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export const onPath = (bin: string) =>
  spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;

/**
 * The quick start must work with nothing configured: REDIS_URL when set, else a local Redis when one answers,
 * else a private redis-server on a free port with its data under `dataDir`. A Redis we did not start is never
 * stopped or flushed.
 */
export async function chooseRedis(env: NodeJS.ProcessEnv, dataDir: string): Promise<RedisChoice> {
  const noop = async () => undefined;
  if (env.REDIS_URL) return { url: env.REDIS_URL, source: 'REDIS_URL', stop: noop };
  const local = 'redis://127.0.0.1:6379';
  if (await redisAnswers(local)) return { url: local, source: 'localhost', stop: noop };
  if (!onPath('redis-server')) throw new RedisUnavailableError();

  const port = await freePort();
  return { ...(await spawnRedisServer(port, dataDir, { appendonly: true })), source: 'spawned' };
}

/**
 * Starts `redis-server` from the PATH on 127.0.0.1:`port` with its files in `dataDir`, and waits until it answers.
 * `appendonly` keeps the data across restarts (npm start's own Redis); tests want none.
 */
export async function spawnRedisServer(
  port: number,
  dataDir: string,
  opts: { appendonly: boolean },
): Promise<Omit<RedisChoice, 'source'>> {
  const dir = path.resolve(dataDir);
  mkdirSync(dir, { recursive: true });
  const child: ChildProcess = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--appendonly',
      opts.appendonly ? 'yes' : 'no',
      '--save',
      '',
    ],
    { stdio: 'ignore' },
  );
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 50; i++) {
    if (await redisAnswers(url, 200)) {
      return {
        url,
        stop: async () => {
          if (child.exitCode !== null) return;
          child.kill('SIGTERM');
          await new Promise<void>((r) => child.once('exit', () => r()));
        },
      };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`redis-server did not answer on port ${port} within 5 s`);
}
