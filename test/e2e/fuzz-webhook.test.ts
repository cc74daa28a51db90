import { createHmac, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '@stagekeeper/sync-service/http/app';
import { createLogger } from '@stagekeeper/sync-service/log';
import { IngestQueue } from '@stagekeeper/sync-service/queue/ingest';
import { redisKeys } from '@stagekeeper/sync-service/state/keys';
import { deleteKeys, REDIS_URL } from './harness';

/**
 * fast-check against the real webhook endpoint (express app, real ingest queue on Redis under its own prefix):
 * random bodies, headers, signatures and timestamps. The oracle signs independently of the service's code.
 */

const SECRET = 'fuzz-secret-0123456789';
const prefix = `sktest-fuzz-${randomBytes(4).toString('hex')}`;
let redis: Redis;
let queue: IngestQueue;
let server: http.Server;
let base: string;
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
/** Every enqueue the endpoint made, with the request tag that was in flight (requests are sent one at a time). */
const enqueued: { tag: string; portalId: string; dealIds: string[] }[] = [];
let inFlight = '';

beforeAll(async () => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
  queue = new IngestQueue(redis, redisKeys(prefix).bullPrefix());
  const app = createApp({
    clientSecret: SECRET,
    maxBodyBytes: 64 * 1024,
    enqueue: async (request) => {
      for (const { portalId, dealIds } of request.portals)
        enqueued.push({ tag: inFlight, portalId, dealIds });
      return queue.add(request);
    },
    readiness: async () => undefined,
    log: createLogger('silent'),
  });
  server = await new Promise<http.Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  agent.destroy();
  await new Promise<void>((r) => server?.close(() => r()));
  await queue?.close();
  await redis?.quit();
  await deleteKeys(prefix);
});

function post(
  path: string,
  body: Buffer,
  headers: Record<string, string>,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${base}${path}`,
      { method: 'POST', agent, headers: { ...headers, 'content-length': String(body.length) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const sign = (secret: string, uri: string, body: Buffer, ts: string) =>
  createHmac('sha256', secret).update(`POST${uri}`).update(body).update(ts).digest('base64');

const id = fc.oneof(
  fc.integer({ min: 1, max: 2 ** 40 }),
  fc.stringMatching(/^\d{1,12}$/),
  fc.string(),
  fc.constant(null),
  fc.double(),
);
const eventish = fc.record(
  {
    eventId: fc.oneof(fc.nat(), fc.string()),
    portalId: id,
    occurredAt: fc.oneof(fc.nat(), fc.integer(), fc.string()),
    subscriptionType: fc.oneof(
      fc.constantFrom(
        'deal.creation',
        'deal.propertyChange',
        'deal.deletion',
        'deal.merge',
        'deal.associationChange',
        'contact.creation',
        'object.propertyChange',
      ),
      fc.string(),
    ),
    objectId: id,
    objectTypeId: fc.constantFrom('0-3', '0-1', 'x'),
    propertyName: fc.constantFrom('dealstage', 'stagekeeper_sla_status', 'hubspot_owner_id', ''),
    propertyValue: fc.jsonValue(),
    attemptNumber: fc.oneof(fc.nat(), fc.integer()),
    mergedObjectIds: fc.array(id, { maxLength: 3 }),
    primaryObjectId: id,
    fromObjectId: id,
    toObjectId: id,
    associationType: fc.constantFrom('DEAL_TO_CONTACT', 'CONTACT_TO_DEAL', ''),
  },
  { requiredKeys: [] },
);
/** Well-formed deal events, so the accepting side of the endpoint (routing, enqueueing) is fuzzed as well. */
const wellFormed = fc.record({
  eventId: fc.nat(),
  subscriptionId: fc.nat(),
  portalId: fc.integer({ min: 1, max: 99_999_999 }),
  appId: fc.nat(),
  occurredAt: fc.nat(),
  subscriptionType: fc.constantFrom('deal.creation', 'deal.propertyChange', 'deal.deletion', 'deal.restore'),
  attemptNumber: fc.nat({ max: 10 }),
  objectId: fc.integer({ min: 1, max: 2 ** 40 }),
  propertyName: fc.constantFrom('dealstage', 'hubspot_owner_id', 'stagekeeper_sla_status'),
  propertyValue: fc.string({ maxLength: 20 }),
  changeSource: fc.constantFrom('CRM_UI', 'API'),
});
const body = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .array(wellFormed, { minLength: 1, maxLength: 10 })
      .map((v) => Buffer.from(JSON.stringify(v))),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 300 }).map((s) => Buffer.from(s, 'utf8')) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)) },
  {
    weight: 1,
    arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
  },
  { weight: 2, arbitrary: fc.array(eventish, { maxLength: 8 }).map((v) => Buffer.from(JSON.stringify(v))) },
  {
    weight: 1,
    arbitrary: fc
      .array(eventish, { minLength: 1, maxLength: 3 })
      .map((v) => Buffer.from(JSON.stringify(v).slice(0, -1))),
  },
);
type TsMode = 'fresh' | 'stale' | 'future' | 'garbage' | 'missing';
type SigMode =
  'valid' | 'missing' | 'random' | 'wrongSecret' | 'otherBody' | 'otherTimestamp' | 'flipped' | 'otherPath';
const request = fc.record({
  body,
  ts: fc.oneof(
    { weight: 6, arbitrary: fc.constant<TsMode>('fresh') },
    fc.constantFrom<TsMode>('stale', 'future', 'garbage', 'missing'),
  ),
  skewSec: fc.integer({ min: 0, max: 10_000 }),
  garbageTs: fc.oneof(
    fc.string({ maxLength: 20 }),
    fc.constantFrom('-1', '1e12', '0x10', '99999999999999999', ' 1700000000000'),
  ),
  sig: fc.oneof(
    { weight: 7, arbitrary: fc.constant<SigMode>('valid') },
    fc.constantFrom<SigMode>(
      'missing',
      'random',
      'wrongSecret',
      'otherBody',
      'otherTimestamp',
      'flipped',
      'otherPath',
    ),
  ),
  randomSig: fc.string({ maxLength: 60 }),
  contentType: fc.constantFrom(
    'application/json',
    'text/plain',
    'application/x-www-form-urlencoded',
    '',
    'application/json; charset=utf-16',
  ),
  query: fc.constantFrom('', '?a=1', '?x=%3A%2F'),
});

describe('webhook endpoint under fuzzing', () => {
  it('never answers 5xx, and never enqueues for an unsigned, mis-signed or stale request', async () => {
    let n = 0;
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const tag = `req-${n++}`;
        const path = `/webhooks/hubspot${r.query}`;
        const uri = `${base}${path}`;
        const now = Date.now();
        // Stale/future: at least 5 min + 1 s away (the service allows 5 min either way); fresh: within 60 s.
        const ts =
          r.ts === 'fresh'
            ? String(now - (r.skewSec % 60) * 1000)
            : r.ts === 'stale'
              ? String(now - 301_000 - r.skewSec * 1000)
              : r.ts === 'future'
                ? String(now + 301_000 + r.skewSec * 1000)
                : r.ts === 'garbage'
                  ? r.garbageTs
                  : undefined;
        const t = ts ?? '';
        // The service signs the URI with %3A and %2F decoded; sign what HubSpot would, i.e. the decoded form.
        const signedUri = uri.replace(/%3A/g, ':').replace(/%2F/g, '/');
        const good = sign(SECRET, signedUri, r.body, t);
        const signature =
          r.sig === 'valid'
            ? good
            : r.sig === 'missing'
              ? undefined
              : r.sig === 'random'
                ? r.randomSig
                : r.sig === 'wrongSecret'
                  ? sign(`${SECRET}x`, signedUri, r.body, t)
                  : r.sig === 'otherBody'
                    ? sign(SECRET, signedUri, Buffer.concat([r.body, Buffer.from(' ')]), t)
                    : r.sig === 'otherTimestamp'
                      ? sign(SECRET, signedUri, r.body, String(Number(t) + 1))
                      : r.sig === 'otherPath'
                        ? sign(SECRET, `${base}/webhooks/other`, r.body, t)
                        : good.slice(0, -2) + (good.at(-2) === 'A' ? 'B' : 'A') + good.at(-1);
        const headers: Record<string, string> = {};
        if (r.contentType) headers['content-type'] = r.contentType;
        if (ts !== undefined) headers['x-hubspot-request-timestamp'] = ts;
        if (signature !== undefined) headers['x-hubspot-signature-v3'] = signature;

        inFlight = tag;
        const before = enqueued.length;
        const res = await post(path, r.body, headers);
        inFlight = '';
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);

        expect(res.status, res.text).toBeLessThan(500);
        const authentic = r.sig === 'valid' && r.ts === 'fresh' && /^\d{1,16}$/.test(t);
        if (!authentic) {
          expect(res.status).toBe(401);
          expect(enqueued.length).toBe(before);
        } else {
          expect([200, 400, 413]).toContain(res.status);
          // Only deal ids that appear in the body may be enqueued.
          for (const e of enqueued.slice(before))
            for (const d of e.dealIds) expect(r.body.toString('utf8')).toContain(d);
        }
      }),
      { numRuns: 400, seed: 20261125 },
    );
    // Sanity: the run covered both sides of the oracle.
    expect(statuses.get(401) ?? 0).toBeGreaterThan(50);
    expect((statuses.get(200) ?? 0) + (statuses.get(400) ?? 0)).toBeGreaterThan(50);
    expect(enqueued.every((e) => e.tag !== '')).toBe(true);
    expect(enqueued.length).toBeGreaterThan(0);
    console.log(
      `webhook fuzz: ${n} requests, statuses ${JSON.stringify(Object.fromEntries(statuses))}, ${enqueued.length} enqueues`,
    );
  });
});
