import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { blankState, deletePrefix, testPrefix, testRedis } from '../testing/fakes';
import { DealBusyError, DealLock } from './deal-lock';
import { silentLogger } from '../log';
import { DealStateStore } from './deal-state-store';
import { redisKeys } from './keys';

let redis: Redis;
const prefix = testPrefix();
beforeAll(() => {
  redis = testRedis();
});
afterEach(async () => {
  await deletePrefix(redis, prefix);
});
afterAll(async () => {
  await redis.quit();
});

it('one holder at a time per deal: the second waits for the first, other deals do not', async () => {
  const lock = new DealLock(redis, redisKeys(prefix), { pollMs: 5 });
  const events: string[] = [];
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const first = lock.withLock('1', '10', async () => {
    events.push('first in');
    await held;
    events.push('first out');
  });
  await expect.poll(() => events.includes('first in')).toBe(true);
  const second = lock.withLock('1', '10', async () => void events.push('second in'));
  await lock.withLock('1', '11', async () => void events.push('other deal'));
  expect(events).toEqual(['first in', 'other deal']);
  release();
  await Promise.all([first, second]);
  expect(events).toEqual(['first in', 'other deal', 'first out', 'second in']);
  expect(await redis.exists(redisKeys(prefix).dealLock('1', '10'))).toBe(0);
});

it('gives up with DealBusyError (the job is retried) when the deal stays taken', async () => {
  const lock = new DealLock(redis, redisKeys(prefix), { waitMs: 50, pollMs: 5 });
  await redis.set(redisKeys(prefix).dealLock('1', '12'), 'someone-else', 'PX', 60_000);
  await expect(lock.withLock('1', '12', async () => 'ran')).rejects.toBeInstanceOf(DealBusyError);
  // Not ours: left alone.
  expect(await redis.get(redisKeys(prefix).dealLock('1', '12'))).toBe('someone-else');
});

it('a live holder renews the lock (it does not expire under a slow job)', async () => {
  const lock = new DealLock(redis, redisKeys(prefix), { ttlMs: 1_000, waitMs: 50, pollMs: 5 });
  const key = redisKeys(prefix).dealLock('1', '13');
  let release!: () => void;
  const held = lock.withLock('1', '13', () => new Promise<void>((r) => (release = r)));
  await expect.poll(() => redis.exists(key)).toBe(1);
  // Renewed: the remaining time goes back up after having run down (no timing assumed beyond a renewal at all).
  let low = Number.POSITIVE_INFINITY;
  await expect
    .poll(
      async () => {
        const left = await redis.pttl(key);
        low = Math.min(low, left);
        return left > low + 50;
      },
      { timeout: 10_000, interval: 20 },
    )
    .toBe(true);
  await expect(lock.withLock('1', '13', async () => 'ran')).rejects.toBeInstanceOf(DealBusyError);
  release();
  await held;
  expect(await redis.exists(key)).toBe(0);
});

it('hands the holder the deal state version as the lock was taken (0 when none or unreadable)', async () => {
  const keys = redisKeys(prefix);
  const lock = new DealLock(redis, keys, { pollMs: 5 });
  const states = new DealStateStore(redis, keys, silentLogger);
  expect(await lock.withLock('1', '20', async (v) => v)).toBe(0);
  await states.save('1', '20', 0, blankState('20'));
  await states.save('1', '20', 1, blankState('20'));
  expect(await lock.withLock('1', '20', async (v) => v)).toBe((await states.load('1', '20')).version);
  expect(await lock.withLock('1', '20', async (v) => v)).toBe(2);
  await redis.set(keys.dealState('1', '21'), 'not a hash');
  expect(await lock.withLock('1', '21', async (v) => v)).toBe(0);
  // A state saved before records were strings: a hash {v, s}.
  await redis.hset(keys.dealState('1', '22'), 'v', '5', 's', '');
  expect(await lock.withLock('1', '22', async (v) => v)).toBe(5);
});
