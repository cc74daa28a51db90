import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURE = fileURLToPath(new URL('./choose-redis.fixture.ts', import.meta.url));
const which = (bin: string) =>
  spawnSync('sh', ['-c', `command -v ${bin} || ls /usr/sbin/${bin} /sbin/${bin} 2>/dev/null`], {
    encoding: 'utf8',
  })
    .stdout.trim()
    .split('\n')[0] ?? '';
const UNSHARE = which('unshare');
const IP = which('ip');
const SH = which('sh');

/**
 * A Redis answers on 127.0.0.1:6379 on this machine (the e2e suites use it), which would hide the other two paths.
 * A private network namespace (root, util-linux unshare, iproute2) has a loopback of its own where nothing listens.
 */
const netnsWorks =
  Boolean(UNSHARE && IP) &&
  spawnSync(UNSHARE, ['-n', IP, 'link', 'set', 'lo', 'up'], { stdio: 'ignore' }).status === 0;

const temp: string[] = [];
const tempDir = (name: string) => {
  const dir = mkdtempSync(path.join(tmpdir(), `sk-${name}-`));
  temp.push(dir);
  return dir;
};
afterAll(() => temp.forEach((d) => rmSync(d, { recursive: true, force: true })));

function chooseInNamespace(dataDir: string, PATH: string): Record<string, unknown> {
  const res = spawnSync(
    UNSHARE,
    [
      '-n',
      SH,
      '-c',
      `${IP} link set lo up && exec "$@"`,
      'sh',
      process.execPath,
      '--import',
      'tsx',
      FIXTURE,
      dataDir,
    ],
    { cwd: ROOT, env: { ...process.env, PATH, REDIS_URL: '' }, encoding: 'utf8', timeout: 30_000 },
  );
  const line = res.stdout.trim().split('\n').pop() ?? '';
  if (!line.startsWith('{'))
    throw new Error(`fixture failed (status ${res.status}):\n${res.stdout}\n${res.stderr}`);
  return JSON.parse(line) as Record<string, unknown>;
}

describe.skipIf(!netnsWorks)('Redis selection on a machine without a Redis running', () => {
  it('spawns a private redis-server with its data in the given directory, and stops it again', () => {
    const dataDir = path.join(tempDir('redis-data'), 'redis');
    const out = chooseInNamespace(dataDir, process.env.PATH ?? '');
    expect(out).toEqual({ source: 'spawned', pong: 'PONG', afterStop: null });
    expect(existsSync(dataDir)).toBe(true);
    expect(readdirSync(dataDir).length).toBeGreaterThan(0); // the append-only files
  });

  it('explains how to get one when redis-server is not on the PATH either', () => {
    // A PATH with a shell only: chooseRedis looks redis-server up through `sh -c command -v`.
    const bin = tempDir('empty-path');
    symlinkSync(SH, path.join(bin, 'sh'));
    const out = chooseInNamespace(path.join(tempDir('unused'), 'redis'), bin);
    expect(out.error).toBe('RedisUnavailableError');
    expect(out.message).toMatch(
      /No Redis found: REDIS_URL is not set, nothing answers on 127\.0\.0\.1:6379, and redis-server is not on the PATH/,
    );
    expect(out.message).toMatch(/apt-get install redis-server/);
  });
});
