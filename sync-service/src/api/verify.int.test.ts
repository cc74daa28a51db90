import request from 'supertest';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { deletePrefix, testPrefix, testRedis } from '../testing/fakes';
import { apiApp, hubspotQuery, PortalGateway, signedHeaders } from './test-harness';

const NOW = Date.parse('2026-11-24T15:00:00.000Z');
const PORTAL = '1234567';
const STATUS = `/api/settings/status?${hubspotQuery(PORTAL)}`;

let redis: Redis;
let prefix: string;
let app: ReturnType<typeof apiApp>['app'];

beforeAll(() => {
  redis = testRedis();
});
beforeEach(() => {
  prefix = testPrefix();
  app = apiApp({ redis, prefix, gateway: new PortalGateway(), now: () => NOW }).app;
});
afterEach(async () => {
  await deletePrefix(redis, prefix);
});
afterAll(async () => {
  await redis.quit();
});

const BAD_SIGNATURE = {
  error: { code: 'bad_signature', message: 'The request signature is missing, expired or wrong.' },
};

describe('signature', () => {
  it('accepts a request signed over the public URL with the appended query', async () => {
    const res = await request(app)
      .get(STATUS)
      .set(signedHeaders('GET', STATUS, '', NOW));
    expect(res.status).toBe(200);
    expect(res.body.portalId).toBe(1234567);
  });

  it('refuses an unsigned request with the contract error shape', async () => {
    const res = await request(app).get(STATUS);
    expect(res.status).toBe(401);
    expect(res.body).toEqual(BAD_SIGNATURE);
  });

  it('refuses a timestamp older than 5 minutes, and one too far ahead', async () => {
    const old = NOW - 5 * 60_000 - 1;
    expect(
      (
        await request(app)
          .get(STATUS)
          .set(signedHeaders('GET', STATUS, '', old))
      ).status,
    ).toBe(401);
    const ahead = NOW + 5 * 60_000 + 1;
    expect(
      (
        await request(app)
          .get(STATUS)
          .set(signedHeaders('GET', STATUS, '', ahead))
      ).status,
    ).toBe(401);
    // Just inside the window still works.
    expect(
      (
        await request(app)
          .get(STATUS)
          .set(signedHeaders('GET', STATUS, '', NOW - 5 * 60_000))
      ).status,
    ).toBe(200);
  });

  it('refuses a signature made with another secret', async () => {
    const res = await request(app)
      .get(STATUS)
      .set(signedHeaders('GET', STATUS, '', NOW, 'not-the-secret'));
    expect(res.status).toBe(401);
    expect(res.body).toEqual(BAD_SIGNATURE);
  });

  it('refuses a signed query whose portalId was swapped afterwards', async () => {
    const headers = signedHeaders('GET', STATUS, '', NOW);
    const res = await request(app)
      .get(STATUS.replace(`portalId=${PORTAL}`, 'portalId=7654321'))
      .set(headers);
    expect(res.status).toBe(401);
  });

  it('refuses a POST whose body differs from the signed one', async () => {
    const path = `/api/card/deal/1/breach-reason?${hubspotQuery(PORTAL)}`;
    const headers = signedHeaders('POST', path, JSON.stringify({ reason: 'capacity' }), NOW);
    const res = await request(app)
      .post(path)
      .set(headers)
      .send(JSON.stringify({ reason: 'handoff' }));
    expect(res.status).toBe(401);
  });

  it('checks the URL HubSpot called (PUBLIC_URL), not the internal host', async () => {
    const ts = String(NOW);
    const { hubspotSignature, SECRET } = await import('./test-harness');
    const internal = hubspotSignature(SECRET, 'GET', `http://127.0.0.1${STATUS}`, '', ts);
    const res = await request(app)
      .get(STATUS)
      .set({ 'X-HubSpot-Signature-v3': internal, 'X-HubSpot-Request-Timestamp': ts });
    expect(res.status).toBe(401);
  });
});

describe('portal from the signed query', () => {
  it('is required', async () => {
    const path = '/api/settings/status?userId=77&appId=9001';
    const res = await request(app)
      .get(path)
      .set(signedHeaders('GET', path, '', NOW));
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
  });

  it('may not be given twice (a UI-sent portalId next to the appended one)', async () => {
    const path = `/api/settings/status?portalId=7654321&${hubspotQuery(PORTAL)}`;
    const res = await request(app)
      .get(path)
      .set(signedHeaders('GET', path, '', NOW));
    expect(res.status).toBe(400);
  });
});
