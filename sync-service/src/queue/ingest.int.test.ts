import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Playbook } from '@stagekeeper/shared';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../log';
import { startService, type Service } from '../service';
import { staticPlaybookSource } from '../state/playbook-store';
import {
  deletePrefix,
  MemoryGateway,
  MINIMAL_PLAYBOOK_INPUT,
  REDIS_URL,
  signedWebhook,
  sleep,
  testConfig,
  testPrefix,
  testRedis,
  waitFor,
} from '../testing/fakes';
import { monitorCommands, type SeenCommand } from '../testing/redis-monitor';
import { redisKeys } from '../state/keys';

const PORTAL = '321';
const playbook = Playbook.parse(MINIMAL_PLAYBOOK_INPUT);

let redis: Redis;
let prefix: string;
const services: Service[] = [];

/** Web-only or worker-only, like the chaos run's processes; reconcile runs stay delayed (a long debounce) to be counted. */
const start = async (role: 'web' | 'worker', over: { redis?: Redis; inlineFanOutMaxDeals?: number } = {}) => {
  const service = await startService({
    config: testConfig(prefix, { RECONCILE_DEBOUNCE_MS: '60000', SWEEP_INTERVAL_MS: '3600000' }),
    gateway: new MemoryGateway(),
    playbookSource: staticPlaybookSource(playbook, [PORTAL]),
    log: silentLogger,
    host: '127.0.0.1',
    http: role === 'web',
    workers: role === 'worker',
    ...over,
  });
  services.push(service);
  return service;
};

async function post(url: string, dealIds: number[]): Promise<{ status: number; body: unknown }> {
  return signed(url, dealIds)();
}

/** One signed delivery naming `dealIds`, sent each time the returned function is called (HubSpot's retry, or a replay). */
function signed(url: string, dealIds: number[]): () => Promise<{ status: number; body: unknown }> {
  const send = signedWebhook(
    url,
    dealIds.map((objectId, i) => ({
      eventId: i,
      subscriptionId: 1,
      portalId: Number(PORTAL),
      appId: 1,
      occurredAt: Date.now(),
      attemptNumber: 0,
      subscriptionType: 'deal.propertyChange',
      objectId,
      propertyName: 'dealstage',
      propertyValue: 'next',
    })),
  );
  return async () => {
    const res = await send();
    return { status: res.status, body: await res.json() };
  };
}

/** A TCP hop to the shared Redis that can be cut and restored: Redis "down" without touching the shared server. */
async function redisProxy() {
  const target = new URL(REDIS_URL);
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve) => {
      server = createServer((client) => {
        const upstream = connect(Number(target.port || 6379), target.hostname);
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('error', () => undefined);
          s.on('close', () => sockets.delete(s));
        }
        client.pipe(upstream).pipe(client);
      });
      server.listen(port, '127.0.0.1', () => {
        port = (server!.address() as AddressInfo).port;
        resolve();
      });
    });
  await listen();
  return {
    url: () => `redis://127.0.0.1:${port}`,
    cut: async () => {
      await new Promise<void>((resolve) => {
        server!.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
    restore: listen,
  };
}

beforeAll(() => {
  redis = testRedis();
});
beforeEach(() => {
  prefix = testPrefix();
});
afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.close()));
  await deletePrefix(redis, prefix);
});
afterAll(async () => {
  await redis.quit();
});

describe('webhook ingest', () => {
  it('stores one ingest job per signed request; the worker fans it out into one reconcile request per distinct deal', async () => {
    const web = await start('web', { inlineFanOutMaxDeals: 0 });
    const res = await post(web.url, [501, 502, 501, 503]);
    expect(res).toEqual({ status: 200, body: { accepted: 3 } });

    const stored = await web.ingestQueue.queue.getJobs(['waiting', 'delayed', 'active']);
    expect(stored.map((j) => j.data)).toEqual([
      { portals: [{ portalId: PORTAL, dealIds: ['501', '502', '503'] }], receivedAt: expect.any(Number) },
    ]);
    expect(await web.reconcileQueue.list()).toEqual([]);

    await start('worker');
    await waitFor(async () => (await web.reconcileQueue.list()).length === 3, 5_000, 'the fan-out');
    await waitFor(
      async () => (await web.ingestQueue.queue.count()) === 0,
      5_000,
      'the ingest job to complete',
    );
    const reconciles = await web.reconcileQueue.list();
    expect(reconciles.map((r) => r.dealId).sort()).toEqual(['501', '502', '503']);
    expect(reconciles.every((r) => r.portalId === PORTAL)).toBe(true);
    expect(await web.ingestQueue.queue.getFailedCount()).toBe(0);
  });

  it('answers 503 while Redis is unreachable (HubSpot redelivers), and keeps every request it acknowledged', async () => {
    const proxy = await redisProxy();
    const hop = new Redis(proxy.url(), { maxRetriesPerRequest: 1 });
    hop.on('error', () => undefined);
    try {
      const web = await start('web', { redis: hop, inlineFanOutMaxDeals: 0 });
      expect((await post(web.url, [601])).status).toBe(200);

      await proxy.cut();
      expect(await post(web.url, [602])).toEqual({
        status: 503,
        body: { error: 'temporarily unable to accept events' },
      });

      await proxy.restore();
      let status = 0;
      await waitFor(
        async () => (status = (await post(web.url, [603])).status) === 200,
        10_000,
        'Redis to be reachable again',
      );
      expect(status).toBe(200);

      // Read through the direct connection: what was acknowledged is in Redis, what was 503'd is not.
      const ids = (await web.ingestQueue.queue.getJobs(['waiting'])).flatMap((j) =>
        j.data.portals.flatMap((p) => p.dealIds),
      );
      expect(ids.sort()).toEqual(['601', '603']);
    } finally {
      await Promise.all(services.splice(0).map((s) => s.close()));
      hop.disconnect();
      await proxy.cut();
    }
  });

  it('fans a small delivery out before the 200, without an ingest job; a bigger one is an ingest job', async () => {
    const web = await start('web', { inlineFanOutMaxDeals: 3 });
    expect(await post(web.url, [701, 702, 701, 703])).toEqual({ status: 200, body: { accepted: 3 } });
    // Already in Redis when the 200 came: one debounced reconcile request per distinct deal, no ingest job.
    const reconciles = await web.reconcileQueue.list();
    expect(reconciles.map((r) => r.dealId).sort()).toEqual(['701', '702', '703']);
    expect(reconciles.every((r) => r.portalId === PORTAL && !r.leased)).toBe(true);
    expect(await web.ingestQueue.queue.count()).toBe(0);

    expect(await post(web.url, [801, 802, 803, 804])).toEqual({ status: 200, body: { accepted: 4 } });
    const stored = await web.ingestQueue.queue.getJobs(['waiting', 'delayed', 'active']);
    expect(stored.map((j) => j.data.portals)).toEqual([
      [{ portalId: PORTAL, dealIds: ['801', '802', '803', '804'] }],
    ]);
    expect(await web.reconcileQueue.list()).toHaveLength(3);
  });

  it('takes a small delivery in one Redis round trip: its replay claim, reconcile requests and last webhook time', async () => {
    const web = await start('web', { inlineFanOutMaxDeals: 3 });
    const keys = redisKeys(prefix);
    const ours = (c: SeenCommand) =>
      c.args.some(
        (a) =>
          a.startsWith(`${prefix}:replay:`) || a === keys.reconcileDue() || a === keys.portalActivity(PORTAL),
      );
    const delivery = signed(web.url, [721, 722]);
    let answer: unknown;
    const seen = (await monitorCommands(redis, prefix, async () => (answer = await delivery()))).filter(ours);
    expect(answer).toEqual({ status: 200, body: { accepted: 2 } });
    // One command from the service, the writes inside it (before: SET, then ZADD, then the activity script).
    expect(seen.filter((c) => !c.inScript).map((c) => c.cmd)).toEqual(['evalsha']);
    expect(seen.filter((c) => c.inScript).map((c) => c.cmd)).toEqual(['set', 'zadd', 'hget', 'hset']);
    expect((await web.reconcileQueue.list()).map((r) => r.dealId).sort()).toEqual(['721', '722']);
    const lastWebhookAt = Number(await redis.hget(keys.portalActivity(PORTAL), 'lastWebhookAt'));
    expect(lastWebhookAt).toBeGreaterThan(Date.now() - 60_000);
    expect((await redis.keys(`${prefix}:replay:*`)).length).toBe(1);

    // The same signed request again: acknowledged as a replay, and nothing but the claim is looked at.
    const again = (await monitorCommands(redis, prefix, async () => (answer = await delivery()))).filter(
      ours,
    );
    expect(answer).toEqual({ status: 200, body: { accepted: 0, replayed: true } });
    expect(again.filter((c) => c.inScript).map((c) => c.cmd)).toEqual(['set']);
  });

  it('answers 503 for a small delivery while Redis is unreachable, and keeps the ones it acknowledged', async () => {
    const proxy = await redisProxy();
    const hop = new Redis(proxy.url(), { maxRetriesPerRequest: 1 });
    hop.on('error', () => undefined);
    try {
      const web = await start('web', { redis: hop });
      expect((await post(web.url, [611])).status).toBe(200);
      await proxy.cut();
      expect((await post(web.url, [612])).status).toBe(503);
      await proxy.restore();
      await waitFor(
        async () => (await post(web.url, [613])).status === 200,
        10_000,
        'Redis to be reachable again',
      );
      const ids = (await web.reconcileQueue.list()).map((r) => r.dealId);
      expect(ids.sort()).toEqual(['611', '613']);
      expect(await web.ingestQueue.queue.count()).toBe(0);
    } finally {
      await Promise.all(services.splice(0).map((s) => s.close()));
      hop.disconnect();
      await proxy.cut();
    }
  });

  it('fails an ingest job with an invalid payload once, without retries', async () => {
    const worker = await start('worker');
    const job = await worker.ingestQueue.queue.add('ingest', {
      portals: [{ portalId: 'not-a-portal', dealIds: [] }],
    });
    await waitFor(async () => (await job.getState()) === 'failed', 5_000, 'the job to fail');
    // Longer than the first retry's backoff (1 s): an ordinary failure would be back in the queue by now.
    await sleep(1_500);
    const after = await worker.ingestQueue.queue.getJob(job.id!);
    expect(await after!.getState()).toBe('failed');
    expect(after!.attemptsMade).toBe(1);
    expect(after!.failedReason).toMatch(/invalid payload/);
    expect(await worker.reconcileQueue.list()).toEqual([]);
  });
});
