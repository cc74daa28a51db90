import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import request from 'supertest';
import { P } from '@stagekeeper/shared';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { silentLogger } from '../log';
import { fanOut, IngestQueue } from '../queue/ingest';
import { ReconcileQueue } from '../queue/reconcile';
import { redisKeys } from '../state/keys';
import { deletePrefix, testPrefix, testRedis, waitFor } from '../testing/fakes';
import { createApp } from './app';
import { ReplayStore } from './replay-store';

const SECRET = 'app-client-secret';
const PUBLIC = 'https://hooks.example.test';
const PATH = '/webhooks/hubspot';

const sign = (body: string, uri = `${PUBLIC}${PATH}`, ts = String(Date.now())) => ({
  'X-HubSpot-Signature-v3': createHmac('sha256', SECRET).update(`POST${uri}${body}${ts}`).digest('base64'),
  'X-HubSpot-Request-Timestamp': ts,
  'Content-Type': 'application/json',
});

const event = (over: Record<string, unknown>) => ({
  eventId: 1,
  subscriptionId: 2,
  portalId: 555,
  appId: 3,
  occurredAt: 1_700_000_000_000,
  attemptNumber: 0,
  subscriptionType: 'deal.propertyChange',
  propertyName: 'dealstage',
  propertyValue: 'closedwon',
  ...over,
});

let redis: Redis;
let prefix: string;
let ingest: IngestQueue;
let reconcile: ReconcileQueue;
let ready: () => Promise<void>;

const METRICS_TOKEN = 'a-metrics-token-of-some-length';
const app = (over: Partial<Parameters<typeof createApp>[0]> = {}) =>
  createApp({
    clientSecret: SECRET,
    publicUrl: PUBLIC,
    maxBodyBytes: 4096,
    enqueue: (request, claim) => ingest.add(request, claim),
    readiness: () => ready(),
    log: silentLogger,
    routers: [
      {
        path: '/api/card',
        router: express.Router().get('/ping', (_req, res) => void res.json({ pong: true })),
      },
    ],
    metricsToken: METRICS_TOKEN,
    ...over,
  });

const post = (body: string, headers: Record<string, string>) =>
  request(app()).post(PATH).set(headers).send(body);

/** What the endpoint stored: one ingest job per accepted request. */
const pendingJobs = async () => (await ingest.queue.getJobs(['delayed', 'waiting'])).map((j) => j.data);
/** What the ingest worker does with them. */
const fanOutPending = async () => {
  for (const job of await ingest.queue.getJobs(['waiting'])) {
    await fanOut(job.data, reconcile);
    await job.remove();
  }
};

beforeAll(() => {
  redis = testRedis();
});
beforeEach(() => {
  prefix = testPrefix();
  ingest = new IngestQueue(redis, redisKeys(prefix).bullPrefix());
  reconcile = new ReconcileQueue(redis, redisKeys(prefix), 10_000);
  ready = async () => void (await redis.ping());
});
afterEach(async () => {
  await ingest.close();
  await reconcile.close();
  await deletePrefix(redis, prefix);
});
afterAll(async () => {
  await redis.quit();
});

describe('POST /webhooks/hubspot', () => {
  it('401s a missing or wrong signature and enqueues nothing', async () => {
    const body = JSON.stringify([event({ objectId: 1 })]);
    const missing = await request(app()).post(PATH).set('Content-Type', 'application/json').send(body);
    expect(missing.status).toBe(401);
    expect(missing.body).toEqual({ error: 'invalid signature', reason: 'missing_header' });

    const tampered = await post(body.replace('"objectId":1', '"objectId":2'), sign(body));
    expect(tampered.status).toBe(401);
    expect(tampered.body.reason).toBe('mismatch');

    const stale = await post(body, sign(body, undefined, String(Date.now() - 301_000)));
    expect(stale.body.reason).toBe('stale');

    expect(await pendingJobs()).toEqual([]);
  });

  it('400s malformed JSON and non-array bodies with a reason', async () => {
    const bad = '[{"objectId":';
    const r1 = await post(bad, sign(bad));
    expect(r1.status).toBe(400);
    expect(r1.body).toMatchObject({
      error: 'malformed JSON',
      issues: [{ path: [], message: expect.any(String) }],
    });

    const obj = '{"objectId":1}';
    const r2 = await post(obj, sign(obj));
    expect(r2.status).toBe(400);
    expect(r2.body.issues[0].message).toMatch(/array/);
    expect(await pendingJobs()).toEqual([]);
  });

  it('400s invalid events with their paths but still enqueues the valid ones', async () => {
    const body = JSON.stringify([
      event({ objectId: 7 }),
      event({ objectId: 'seven' }),
      event({ objectId: 8, occurredAt: undefined }),
    ]);
    const r = await post(body, sign(body));
    expect(r.status).toBe(400);
    expect(r.body.issues.map((i: { path: unknown[] }) => i.path)).toEqual([
      [1, 'objectId'],
      [2, 'occurredAt'],
    ]);
    expect(r.body.accepted).toBe(1);
    expect(await pendingJobs()).toEqual([{ portals: [{ portalId: '555', dealIds: ['7'] }] }]);
  });

  it('413s an oversized body as JSON', async () => {
    const body = JSON.stringify(Array.from({ length: 40 }, (_, i) => event({ objectId: i })));
    const r = await post(body, sign(body));
    expect(r.status).toBe(413);
    expect(r.body).toEqual({ error: 'payload too large', limitBytes: 4096 });
    expect(await pendingJobs()).toEqual([]);
  });

  it('200s with one ingest job per request; its fan-out makes one reconcile request per distinct deal; a redelivery coalesces', async () => {
    const body = JSON.stringify([
      event({ objectId: 10 }),
      event({ objectId: 10, propertyName: 'amount' }),
      event({ objectId: 11, subscriptionType: 'deal.creation' }),
      event({ objectId: 12, portalId: 556 }),
    ]);
    const r = await post(body, sign(body));
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ accepted: 3 });
    expect(await pendingJobs()).toEqual([
      {
        portals: [
          { portalId: '555', dealIds: ['10', '11'] },
          { portalId: '556', dealIds: ['12'] },
        ],
      },
    ]);
    await fanOutPending();
    const requests = await reconcile.list();
    expect(requests.map((r) => `${r.portalId}/${r.dealId}`).sort()).toEqual(['555/10', '555/11', '556/12']);

    const again = await post(body, sign(body));
    expect(again.body).toEqual({ accepted: 3 });
    await fanOutPending();
    expect(await reconcile.list()).toHaveLength(3);
  });

  it('enqueues both sides of a merge and skips echoes of our own properties and other objects', async () => {
    const body = JSON.stringify([
      event({
        subscriptionType: 'deal.merge',
        objectId: 20,
        primaryObjectId: 20,
        mergedObjectIds: [21],
        newObjectId: 20,
      }),
      event({ objectId: 30, propertyName: P.gateStatus }),
      event({ subscriptionType: 'contact.creation', objectId: 40 }),
      event({ subscriptionType: 'deal.futureThing', objectId: 50 }),
    ]);
    const r = await post(body, sign(body));
    expect(r.status).toBe(200);
    expect((await pendingJobs()).flatMap((d) => d.portals.flatMap((p) => p.dealIds)).sort()).toEqual([
      '20',
      '21',
    ]);
  });

  it('stores nothing for a request whose events all need no work', async () => {
    const body = JSON.stringify([
      event({ objectId: 80, propertyName: P.gateStatus }),
      event({ subscriptionType: 'contact.creation', objectId: 81 }),
    ]);
    const r = await post(body, sign(body));
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ accepted: 0 });
    expect(await pendingJobs()).toEqual([]);
  });

  it('verifies against the request host when no public URL is configured', async () => {
    const bare = createApp({
      clientSecret: SECRET,
      maxBodyBytes: 4096,
      enqueue: (request, claim) => ingest.add(request, claim),
      readiness: () => ready(),
      log: silentLogger,
    });
    const body = JSON.stringify([event({ objectId: 60 })]);
    const r = await request(bare)
      .post(`${PATH}?x=1`)
      .set('Host', 'sk.internal:8080')
      .set(sign(body, `http://sk.internal:8080${PATH}?x=1`))
      .send(body);
    expect(r.status).toBe(200);
  });

  it('answers 503 (so HubSpot redelivers) when the queue cannot take the events', async () => {
    const failing = createApp({
      clientSecret: SECRET,
      publicUrl: PUBLIC,
      maxBodyBytes: 4096,
      enqueue: async () => {
        throw new Error('redis down');
      },
      readiness: () => ready(),
      log: silentLogger,
    });
    const body = JSON.stringify([event({ objectId: 70 })]);
    expect((await request(failing).post(PATH).set(sign(body)).send(body)).status).toBe(503);
  });
});

describe('health, readiness, metrics, extension routes', () => {
  it('serves /healthz, /readyz (200, then 503 when Redis is unreachable) and /metrics', async () => {
    expect((await request(app()).get('/healthz')).status).toBe(200);
    expect((await request(app()).get('/readyz')).status).toBe(200);
    ready = async () => {
      throw new Error('ECONNREFUSED');
    };
    expect((await request(app()).get('/readyz')).status).toBe(503);
    const m = await request(app()).get('/metrics').set('Authorization', `Bearer ${METRICS_TOKEN}`);
    expect(m.status).toBe(200);
    expect(m.text).toContain('stagekeeper_webhook_events_total');
    expect(m.text).toContain('stagekeeper_hubspot_calls_total');
  });

  it('mounts routers from the extension point and 404s unknown paths as JSON', async () => {
    expect((await request(app()).get('/api/card/ping')).body).toEqual({ pong: true });
    const r = await request(app()).get('/nope');
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ error: 'not found' });
  });
});

describe('issue 12: metrics protected, headers before bodies, replays', () => {
  it('/metrics needs the bearer token, and is not served at all without one configured', async () => {
    expect((await request(app()).get('/metrics')).status).toBe(401);
    expect(
      (await request(app()).get('/metrics').set('Authorization', 'Bearer wrong-token-of-some-length')).status,
    ).toBe(401);
    expect((await request(app({ metricsToken: undefined })).get('/metrics')).status).toBe(404);
  });

  it('an unsigned request is refused from its headers, without waiting for (or reading) its body', async () => {
    const server = app({ maxBodyBytes: 1024 * 1024 }).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const { port } = server.address() as AddressInfo;
    try {
      const status = await new Promise<number>((resolve, reject) => {
        // Announces 1 MB and sends 1 KB of it: an answer can only come from the headers.
        const req = http.request({
          port,
          host: '127.0.0.1',
          method: 'POST',
          path: PATH,
          headers: { 'content-type': 'application/json', 'content-length': String(1024 * 1024) },
        });
        req.on('response', (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
          req.destroy();
        });
        req.on('error', (err) =>
          (err as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(err),
        );
        req.write(Buffer.alloc(1024, 0x20));
      });
      expect(status).toBe(401);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('a stale timestamp is refused before the body too', async () => {
    const body = JSON.stringify([event({ objectId: 90 })]);
    const res = await post(body, sign(body, `${PUBLIC}${PATH}`, String(Date.now() - 10 * 60_000)));
    expect(res.status).toBe(401);
    expect(res.body.reason).toBe('stale');
  });

  it('the same signed request twice within the window is acknowledged once and enqueued once; a failed one can be retried', async () => {
    const replay = new ReplayStore(redis, redisKeys(prefix));
    const body = JSON.stringify([event({ objectId: 91 })]);
    const headers = sign(body);
    const first = await request(app({ replay })).post(PATH).set(headers).send(body);
    expect(first.body).toEqual({ accepted: 1 });
    const again = await request(app({ replay })).post(PATH).set(headers).send(body);
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ accepted: 0, replayed: true });
    expect(await pendingJobs()).toHaveLength(1);
    // The claim expires with the signature window.
    const keys = await redis.keys(`${prefix}:replay:*`);
    expect(keys).toHaveLength(1);
    expect(await redis.pttl(keys[0]!)).toBeGreaterThan(9 * 60_000);

    // Redis unreachable for the replay check: 503 (HubSpot redelivers), not a 500.
    const down = {
      claimOf: () => ({ key: 'k', ttlMs: 1, take: async () => Promise.reject(new Error('ECONNREFUSED')) }),
      release: async () => undefined,
    };
    const body3 = JSON.stringify([event({ objectId: 93 })]);
    expect(
      (
        await request(app({ replay: down }))
          .post(PATH)
          .set(sign(body3))
          .send(body3)
      ).status,
    ).toBe(503);

    // A request answered 503 (Redis could not take it) is not spent: HubSpot's retry of it goes through.
    const body2 = JSON.stringify([event({ objectId: 92 })]);
    const headers2 = sign(body2);
    const failing = app({ replay, enqueue: async () => Promise.reject(new Error('redis down')) });
    expect((await request(failing).post(PATH).set(headers2).send(body2)).status).toBe(503);
    // The claim is given back once the 503 has been sent.
    await waitFor(
      async () => (await redis.keys(`${prefix}:replay:*`)).length === 1,
      5_000,
      'the claim to be released',
    );
    expect((await request(app({ replay })).post(PATH).set(headers2).send(body2)).body).toEqual({
      accepted: 1,
    });
  });
});
