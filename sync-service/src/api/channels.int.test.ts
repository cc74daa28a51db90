import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { startPagingFake } from '../../../test/fakes/paging/server';
import { redisKeys } from '../state/keys';
import { deletePrefix, testPrefix, testRedis } from '../testing/fakes';
import { apiApp, hubspotQuery, PortalGateway, signedHeaders } from './test-harness';

const A = '1111111';
const B = '2222222';
const NOW = Date.parse('2026-11-20T10:00:00.000Z');
const KEY = randomBytes(32).toString('hex');
const SLACK_URL = 'https://hooks.slack.com/services/T0001/B0001/abcdefSECRETwxyz';

let redis: Redis;
let prefix: string;

beforeAll(() => {
  redis = testRedis();
});
beforeEach(() => {
  prefix = testPrefix();
});
afterEach(async () => {
  await deletePrefix(redis, prefix);
});
afterAll(async () => {
  await redis.quit();
});

const app = (encryptionKey: string | null = KEY) =>
  apiApp({ redis, prefix, gateway: new PortalGateway(), now: () => NOW, ...(encryptionKey ? { encryptionKey } : {}) }).app;

function call(a: ReturnType<typeof app>, method: 'GET' | 'PUT' | 'DELETE' | 'POST', route: string, portal: string, body?: unknown, userId = '42') {
  const path = `${route}?${hubspotQuery(portal, { userId, userEmail: 'ops@example.com' })}`;
  const text = body === undefined ? '' : JSON.stringify(body);
  const r =
    method === 'GET' ? request(a).get(path) : method === 'PUT' ? request(a).put(path) : method === 'POST' ? request(a).post(path) : request(a).delete(path);
  return r.set(signedHeaders(method, path, text, NOW)).send(text || undefined);
}

describe('/api/settings/channels', () => {
  it('adds a channel (the first becomes the default), lists it masked, and never stores or answers the secret in clear', async () => {
    const a = app();
    expect((await call(a, 'GET', '/api/settings/channels', A)).body).toEqual({ canStore: true, defaultChannel: null, channels: [] });
    const put = await call(a, 'PUT', '/api/settings/channels/ops-slack', A, { config: { kind: 'slack', webhookUrl: SLACK_URL } });
    expect(put.status).toBe(200);
    expect(put.body).toEqual({
      canStore: true,
      defaultChannel: 'ops-slack',
      channels: [{ id: 'ops-slack', kind: 'slack', target: 'hooks.slack.com (…wxyz)', isDefault: true, health: null }],
    });
    expect(JSON.stringify(put.body)).not.toContain('SECRET');
    const stored = await redis.get(redisKeys(prefix).notifyChannels(A));
    expect(stored).toMatch(/^sk1\./);
    expect(stored).not.toContain('SECRET');
    // Portal B sees nothing of A's.
    expect((await call(a, 'GET', '/api/settings/channels', B)).body.channels).toEqual([]);
  });

  it('refuses an invalid config with the exact field, and http URLs to anything but loopback', async () => {
    const a = app();
    const bad = await call(a, 'PUT', '/api/settings/channels/pd', A, { config: { kind: 'pagerduty', routingKey: 'short' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'invalid_request', issues: [{ path: ['routingKey'], message: 'expected the 32-character integration (routing) key' }] });
    const http = await call(a, 'PUT', '/api/settings/channels/hook', A, { config: { kind: 'webhook', url: 'http://example.com/x', secret: 'x'.repeat(20) } });
    expect(http.status).toBe(400);
    expect(http.body.error.issues[0]).toMatchObject({ path: ['url'], message: 'expected an https:// URL' });
    const id = await call(a, 'PUT', '/api/settings/channels/Bad%20Id', A, { config: { kind: 'slack', webhookUrl: SLACK_URL } });
    expect(id.status).toBe(400);
  });

  it('sets and clears the default, removes channels', async () => {
    const a = app();
    await call(a, 'PUT', '/api/settings/channels/ops-slack', A, { config: { kind: 'slack', webhookUrl: SLACK_URL } });
    await call(a, 'PUT', '/api/settings/channels/pd', A, { config: { kind: 'pagerduty', routingKey: 'R'.repeat(32) }, makeDefault: true });
    expect((await call(a, 'GET', '/api/settings/channels', A)).body.defaultChannel).toBe('pd');
    const none = await call(a, 'PUT', '/api/settings/channels-default', A, { channel: 'missing' });
    expect(none.status).toBe(400);
    const removed = await call(a, 'DELETE', '/api/settings/channels/pd', A);
    expect(removed.body).toMatchObject({ defaultChannel: null, channels: [{ id: 'ops-slack' }] });
    const set = await call(a, 'PUT', '/api/settings/channels-default', A, { channel: 'ops-slack' });
    expect(set.body.defaultChannel).toBe('ops-slack');
  });

  it('a write without a signed HubSpot user is 403 and changes nothing', async () => {
    const a = app();
    const res = await call(a, 'PUT', '/api/settings/channels/ops-slack', A, { config: { kind: 'slack', webhookUrl: SLACK_URL } }, 'not-a-user');
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('forbidden');
    expect((await call(a, 'GET', '/api/settings/channels', A)).body.channels).toEqual([]);
  });

  it('without TOKEN_ENCRYPTION_KEY the page says channels cannot be stored, and a write says why', async () => {
    const a = app(null);
    expect((await call(a, 'GET', '/api/settings/channels', A)).body.canStore).toBe(false);
    const res = await call(a, 'PUT', '/api/settings/channels/ops-slack', A, { config: { kind: 'slack', webhookUrl: SLACK_URL } });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain('TOKEN_ENCRYPTION_KEY');
  });
});

describe('POST /api/settings/channels/:id/test', () => {
  it('sends a test page that says so in its first line; a refusal is answered with its code and marks the channel', async () => {
    const fake = await startPagingFake();
    try {
      const a = app();
      await call(a, 'PUT', '/api/settings/channels/ops', A, { config: { kind: 'slack', webhookUrl: `${fake.url}/slack/services/T000/B000/XXXX` } });
      const ok = await call(a, 'POST', '/api/settings/channels/ops/test', A);
      expect(ok.status).toBe(200);
      expect(ok.body).toMatchObject({ ok: true, channels: [{ id: 'ops', health: { state: 'ok' } }] });
      expect((fake.received[0]!.json as { text: string }).text).toContain('Stagekeeper test page');

      fake.script('/slack/services/T000/B000/XXXX', { status: 404, body: 'channel_not_found' });
      const refused = await call(a, 'POST', '/api/settings/channels/ops/test', A);
      expect(refused.body).toMatchObject({ ok: false, code: 'channel_not_found', channels: [{ id: 'ops', health: { state: 'failing' } }] });

      await call(a, 'PUT', '/api/settings/channels/pd', A, {
        config: { kind: 'pagerduty', routingKey: 'R'.repeat(32), eventsUrl: `${fake.url}/pagerduty/v2/enqueue` },
      });
      expect((await call(a, 'POST', '/api/settings/channels/pd/test', A)).body.ok).toBe(true);
      expect([...fake.incidents.values()]).toEqual(['resolved']);
      expect((await call(a, 'POST', '/api/settings/channels/nope/test', A)).status).toBe(404);
      expect((await call(a, 'POST', '/api/settings/channels/ops/test', A, undefined, 'x')).status).toBe(403);
    } finally {
      await fake.close();
    }
  });
});
