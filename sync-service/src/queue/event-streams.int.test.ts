import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PageQueue } from '../notify/page-queue';
import type { PageTrail } from '../notify/page-trail';
import { redisKeys } from '../state/keys';
import { deletePrefix, testPrefix, testRedis } from '../testing/fakes';
import { IngestQueue } from './ingest';
import { SweepQueue } from './sweep';

let redis: Redis;
let prefix: string;
const opened: { close(): Promise<void> }[] = [];

beforeEach(() => {
  redis = testRedis();
  prefix = testPrefix();
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((q) => q.close()));
  await deletePrefix(redis, prefix);
  await redis.quit();
});

/** Nothing reads the streams (no QueueEvents): a bulk move must not leave BullMQ's default 10,000 events each. */
describe('BullMQ events streams', () => {
  const queues: [string, (bull: string) => { queue: Queue; close(): Promise<void> }][] = [
    ['ingest', (bull) => new IngestQueue(redis, bull)],
    ['sweep', (bull) => new SweepQueue(redis, bull)],
    ['pages', (bull) => new PageQueue(redis, bull, {} as PageTrail)],
  ];

  it.each(queues)('the %s queue keeps about the last hundred events', async (name, make) => {
    const bull = redisKeys(prefix).bullPrefix();
    const q = make(bull);
    opened.push(q);
    await q.queue.waitUntilReady();
    // Delayed jobs, so no worker is needed and none runs: each add writes its events.
    await q.queue.addBulk(
      Array.from({ length: 300 }, (_, i) => ({ name: 'x', data: { i }, opts: { delay: 3_600_000 } })),
    );
    const events = await redis.xlen(`${bull}:${name}:events`);
    expect(events).toBeGreaterThan(0);
    expect(events).toBeLessThanOrEqual(250);
  });
});
