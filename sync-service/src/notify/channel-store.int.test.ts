import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseKeyRing } from '../install/encryption-key';
import { silentLogger } from '../log';
import { redisKeys } from '../state/keys';
import { deletePrefix, testPrefix, testRedis } from '../testing/fakes';
import { ChannelStore } from './channel-store';

const A = '1001';
const B = '1002';
const SLACK = { kind: 'slack', webhookUrl: 'https://hooks.slack.com/services/T1/B1/secretpart' };
let redis: Redis;
let prefix: string;
let store: ChannelStore;
const key = randomBytes(32).toString('hex');

beforeAll(() => {
  redis = testRedis();
});
beforeEach(() => {
  prefix = testPrefix();
  store = new ChannelStore({ redis, prefix, keys: key, log: silentLogger });
});
afterEach(async () => {
  await deletePrefix(redis, prefix);
});
afterAll(async () => {
  await redis.quit();
});

describe('ChannelStore', () => {
  it('a sealed document copied under another portal does not open there (no channel, pages fall back to tasks)', async () => {
    await store.put(A, 'ops', SLACK);
    const keys = redisKeys(prefix);
    await redis.set(keys.notifyChannels(B), (await redis.get(keys.notifyChannels(A)))!);
    expect((await store.get(A)).channels.ops).toEqual(SLACK);
    expect(await store.get(B)).toEqual({ defaultChannel: null, channels: {} });
  });

  it('reads channels sealed under a key that was rotated out of first place', async () => {
    await store.put(A, 'ops', SLACK);
    const rotated = new ChannelStore({
      redis,
      prefix,
      keys: `${randomBytes(32).toString('hex')},${key}`,
      log: silentLogger,
    });
    expect((await rotated.get(A)).channels.ops).toEqual(SLACK);
    expect(parseKeyRing(key).current.id).not.toBe(
      parseKeyRing(`${randomBytes(32).toString('hex')},${key}`).current.id,
    );
  });

  it('concurrent edits by two admins keep both channels', async () => {
    await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        store.put(A, `c${i}`, { ...SLACK, webhookUrl: `${SLACK.webhookUrl}${i}` }),
      ),
    );
    expect(Object.keys((await store.get(A)).channels).sort()).toEqual(['c0', 'c1', 'c2', 'c3', 'c4', 'c5']);
  });

  it('three failures in a row mark a channel failing; a success heals it', async () => {
    await store.put(A, 'ops', SLACK);
    await store.recordFailure(A, 'ops', 'http_503', false);
    expect((await store.recordFailure(A, 'ops', 'http_503', false)).state).toBe('ok');
    expect((await store.recordFailure(A, 'ops', 'http_503', false)).state).toBe('failing');
    await store.recordSuccess(A, 'ops');
    expect((await store.health(A)).ops).toMatchObject({
      state: 'ok',
      consecutiveFailures: 0,
      lastError: 'http_503',
    });
  });
});
