import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { examplePlaybookPath } from '@stagekeeper/shared';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../log';
import { redisKeys } from '../state/keys';
import { PlaybookStore } from '../state/playbook-store';
import { runCaptured } from './testing';

const prefix = `skpub-${process.pid}-${Date.now() % 1e6}`;
const env = { REDIS_URL: 'redis://127.0.0.1:6379', KEY_PREFIX: prefix };
const redis = new Redis(env.REDIS_URL);

afterAll(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
});

describe('stagekeeper playbook publish', () => {
  it('puts a valid playbook in force once, and reports an unchanged one', async () => {
    const file = examplePlaybookPath('telehealth');
    const first = await runCaptured(['playbook', 'publish', file, '--portal', '777'], env);
    expect(first).toMatchObject({ code: 0, stdout: 'published: portal 777 now runs version 1\n' });
    const again = await runCaptured(['playbook', 'publish', file, '--portal', '777'], env);
    expect(again.stdout).toBe('unchanged: portal 777 already runs this playbook (version 1)\n');
    const stored = await new PlaybookStore(redis, redisKeys(prefix), silentLogger).current('777');
    expect(stored?.playbook.name).toBe('Telehealth intake');
  });

  it('refuses an invalid playbook with its path, and stores nothing', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sk-pub-'));
    const bad = path.join(dir, 'bad.json');
    writeFileSync(
      bad,
      JSON.stringify({ schemaVersion: 1, name: 'x', calendars: [], roles: [], pipelines: [] }),
    );
    const r = await runCaptured(['playbook', 'publish', bad, '--portal', '778'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('calendars');
    expect(await new PlaybookStore(redis, redisKeys(prefix), silentLogger).current('778')).toBeNull();
  });

  it('asks which portal when none is given', async () => {
    const r = await runCaptured(['playbook', 'publish', examplePlaybookPath('telehealth')], env);
    expect(r).toMatchObject({
      code: 1,
      stderr: 'error: which portal? pass --portal <id> or set HUBSPOT_PORTAL_ID\n',
    });
  });
});
