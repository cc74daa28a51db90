import { Playbook } from '@stagekeeper/shared';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, silentLogger } from '../log';
import { registry } from '../metrics';
import { startService, type Service } from '../service';
import {
  deletePrefix,
  MemoryGateway,
  MINIMAL_PLAYBOOK_INPUT,
  ScriptedEngine,
  signedWebhook,
  testConfig,
  testPrefix,
  testRedis,
} from '../testing/fakes';
import { RedisDataLossError } from '../decide';
import { checkRedisDurability } from './data-loss';
import { redisKeys } from './keys';
import { PlaybookStore } from './playbook-store';

const PORTAL = '321';
const playbook = Playbook.parse(MINIMAL_PLAYBOOK_INPUT);

let redis: Redis;
let prefix: string;
let service: Service | undefined;

beforeAll(() => {
  redis = testRedis();
});
afterEach(async () => {
  await service?.close();
  service = undefined;
  await deletePrefix(redis, prefix);
});
afterAll(async () => {
  await redis.quit();
});

async function postWebhook(url: string): Promise<number> {
  const res = await signedWebhook(url, [
    {
      eventId: 1,
      subscriptionId: 1,
      portalId: Number(PORTAL),
      appId: 1,
      occurredAt: Date.now(),
      attemptNumber: 0,
      subscriptionType: 'deal.creation',
      objectId: 7,
    },
  ])();
  return res.status;
}

const lossCount = async () =>
  (await registry.getSingleMetric('stagekeeper_redis_data_loss_total')!.get()).values[0]?.value ?? 0;

describe('Redis data loss while the service runs', () => {
  it('readyz and webhooks 503 and jobs retry (not "nothing to enforce") until re-seeded; then all is back', async () => {
    prefix = testPrefix();
    const store = new PlaybookStore(redis, redisKeys(prefix), silentLogger);
    const reasons: string[] = [];
    let release: () => void = () => undefined;
    let gate = Promise.resolve();
    service = await startService({
      config: testConfig(prefix),
      gateway: new MemoryGateway(),
      engine: new ScriptedEngine(),
      log: silentLogger,
      host: '127.0.0.1',
      dataLossCheckMs: 60_000, // the test triggers detection itself
      reseed: async (reason) => {
        reasons.push(reason);
        await gate;
        await store.saveIfChanged(PORTAL, playbook);
      },
    });
    expect(reasons).toEqual(['start']);
    expect((await fetch(`${service.url}/readyz`)).status).toBe(200);
    const lossesBefore = await lossCount();

    gate = new Promise<void>((r) => (release = r));
    await deletePrefix(redis, prefix);
    expect(await service.dataLoss.verify()).toBe(false);
    expect(await lossCount()).toBe(lossesBefore + 1);
    expect((await fetch(`${service.url}/readyz`)).status).toBe(503);
    expect(await postWebhook(service.url)).toBe(503);
    // A job that finds no playbook now fails (BullMQ retries it) instead of succeeding with nothing enforced.
    await expect(service.reconcileDeals(PORTAL, ['7'])).rejects.toBeInstanceOf(RedisDataLossError);

    release();
    await service.dataLoss.settled();
    expect(reasons).toEqual(['start', 'data_loss']);
    expect(service.dataLoss.intact).toBe(true);
    expect((await fetch(`${service.url}/readyz`)).status).toBe(200);
    expect(await postWebhook(service.url)).toBe(200);
    expect((await service.reconcileDeals(PORTAL, ['8'])).get('8')).toBe('applied');
    // The sweep schedule came back with the seed.
    expect((await service.sweepQueue.queue.getJobSchedulers()).length).toBe(1);
  });

  it('with the marker intact, a portal without playbook is an error log and a metric, and the job completes', async () => {
    prefix = testPrefix();
    const lines: string[] = [];
    service = await startService({
      config: testConfig(prefix),
      gateway: new MemoryGateway(),
      engine: new ScriptedEngine(),
      log: createLogger('info', { write: (s: string) => void lines.push(s) }),
      host: '127.0.0.1',
      workers: false,
    });
    const metric = registry.getSingleMetric('stagekeeper_portal_without_playbook_total')!;
    const before = (await metric.get()).values.find((v) => v.labels.work === 'reconcile')?.value ?? 0;
    expect((await service.reconcileDeals('999', ['1'])).get('1')).toBe('no_playbook');
    expect((await metric.get()).values.find((v) => v.labels.work === 'reconcile')?.value).toBe(before + 1);
    const line = lines
      .map((l) => JSON.parse(l) as { level: number; msg: string })
      .find((l) => /no playbook/.test(l.msg));
    expect(line?.level).toBe(50); // pino "error"
  });
});

describe('Redis durability at start', () => {
  const fakeRedis = (values: Record<string, string>) =>
    ({ config: async (_: string, name: string) => [name, values[name] ?? ''] }) as unknown as Redis;
  const volatile = fakeRedis({ appendonly: 'no', save: '', 'maxmemory-policy': 'allkeys-lru' });

  it('refuses a Redis without persistence or with eviction in production', async () => {
    await expect(checkRedisDurability(volatile, silentLogger, { production: true })).rejects.toThrow(
      /refusing to start.*no persistence.*allkeys-lru/,
    );
  });

  it('warns loudly elsewhere, and is quiet for an AOF Redis with noeviction', async () => {
    const lines: string[] = [];
    const log = createLogger('info', { write: (s: string) => void lines.push(s) });
    expect(await checkRedisDurability(volatile, log, { production: false })).toHaveLength(2);
    expect(lines.filter((l) => JSON.parse(l).level === 40)).toHaveLength(2);
    expect(
      await checkRedisDurability(
        fakeRedis({ appendonly: 'yes', save: '', 'maxmemory-policy': 'noeviction' }),
        log,
        { production: true },
      ),
    ).toEqual([]);
  });
});
