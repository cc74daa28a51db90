import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { startPagingFake } from '../../../test/fakes/paging/server';
import { InstallRegistry } from '../install/registry';
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
// Both portals installed, user 42 (the default caller) their admin: the list kept at install.
beforeEach(async () => {
  prefix = testPrefix();
  const registry = new InstallRegistry(redis, prefix);
  for (const portal of [A, B])
    await registry.markInstalled(portal, { mode: 'oauth', scopes: null, admins: ['42'] });
});
afterEach(async () => {
  await deletePrefix(redis, prefix);
});
afterAll(async () => {
  await redis.quit();
});

const app = (encryptionKey: string | null = KEY) =>
  apiApp({
    redis,
    prefix,
    gateway: new PortalGateway(),
    now: () => NOW,
    ...(encryptionKey ? { encryptionKey } : {}),
  }).app;

let sent = 0;
function call(
  a: ReturnType<typeof app>,
  method: 'GET' | 'PUT' | 'DELETE' | 'POST',
  route: string,
  portal: string,
  body?: unknown,
  userId = '42',
) {
  const path = `${route}?${hubspotQuery(portal, { userId, userEmail: 'ops@example.com' })}`;
  const text = body === undefined ? '' : JSON.stringify(body);
  const r =
    method === 'GET'
      ? request(a).get(path)
      : method === 'PUT'
        ? request(a).put(path)
        : method === 'POST'
          ? request(a).post(path)
          : request(a).delete(path);
  // HubSpot signs each request afresh: a new timestamp (within the 5-minute window), so no two are replays.
  return r.set(signedHeaders(method, path, text, NOW + ++sent)).send(text || undefined);
}

describe('/api/settings/channels', () => {
  it('adds a channel (the first becomes the default), lists it masked, and never stores or answers the secret in clear', async () => {
    const a = app();
    expect((await call(a, 'GET', '/api/settings/channels', A)).body).toEqual({
      canStore: true,
      defaultChannel: null,
      channels: [],
    });
    const put = await call(a, 'PUT', '/api/settings/channels/ops-slack', A, {
      config: { kind: 'slack', webhookUrl: SLACK_URL },
    });
    expect(put.status).toBe(200);
    expect(put.body).toEqual({
      canStore: true,
      defaultChannel: 'ops-slack',
      channels: [
        { id: 'ops-slack', kind: 'slack', target: 'hooks.slack.com (…wxyz)', isDefault: true, health: null },
      ],
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
    const bad = await call(a, 'PUT', '/api/settings/channels/pd', A, {
      config: { kind: 'pagerduty', routingKey: 'short' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({
      code: 'invalid_request',
      issues: [{ path: ['routingKey'], message: 'expected the 32-character integration (routing) key' }],
    });
    const http = await call(a, 'PUT', '/api/settings/channels/hook', A, {
      config: { kind: 'webhook', url: 'http://example.com/x', secret: 'x'.repeat(20) },
    });
    expect(http.status).toBe(400);
    expect(http.body.error.issues[0]).toMatchObject({ path: ['url'], message: 'expected an https:// URL' });
    const id = await call(a, 'PUT', '/api/settings/channels/Bad%20Id', A, {
      config: { kind: 'slack', webhookUrl: SLACK_URL },
    });
    expect(id.status).toBe(400);
  });

  it('sets and clears the default, removes channels', async () => {
    const a = app();
    await call(a, 'PUT', '/api/settings/channels/ops-slack', A, {
      config: { kind: 'slack', webhookUrl: SLACK_URL },
    });
    await call(a, 'PUT', '/api/settings/channels/pd', A, {
      config: { kind: 'pagerduty', routingKey: 'R'.repeat(32) },
      makeDefault: true,
    });
    expect((await call(a, 'GET', '/api/settings/channels', A)).body.defaultChannel).toBe('pd');
    const none = await call(a, 'PUT', '/api/settings/channels-default', A, { channel: 'missing' });
    expect(none.status).toBe(400);
    const removed = await call(a, 'DELETE', '/api/settings/channels/pd', A);
    expect(removed.body).toMatchObject({ defaultChannel: null, channels: [{ id: 'ops-slack' }] });
    const set = await call(a, 'PUT', '/api/settings/channels-default', A, { channel: 'ops-slack' });
    expect(set.body.defaultChannel).toBe('ops-slack');
  });

  it('a write without a signed HubSpot user, or by a user who is no admin of the portal, is 403 and changes nothing', async () => {
    const a = app();
    for (const userId of ['not-a-user', '77']) {
      const res = await call(
        a,
        'PUT',
        '/api/settings/channels/ops-slack',
        A,
        { config: { kind: 'slack', webhookUrl: SLACK_URL } },
        userId,
      );
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('forbidden');
    }
    expect((await call(a, 'GET', '/api/settings/channels', A)).body.channels).toEqual([]);
  });

  it('a portal that never installed cannot store channels (403 not_installed)', async () => {
    const a = app();
    const res = await call(a, 'PUT', '/api/settings/channels/ops-slack', '3333333', {
      config: { kind: 'slack', webhookUrl: SLACK_URL },
    });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('not_installed');
  });

  it('without TOKEN_ENCRYPTION_KEY the page says channels cannot be stored, and a write says why', async () => {
    const a = app(null);
    expect((await call(a, 'GET', '/api/settings/channels', A)).body.canStore).toBe(false);
    const res = await call(a, 'PUT', '/api/settings/channels/ops-slack', A, {
      config: { kind: 'slack', webhookUrl: SLACK_URL },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain('TOKEN_ENCRYPTION_KEY');
  });
});

describe('POST /api/settings/channels/:id/test', () => {
  it('sends a test page that says so in its first line; a refusal is answered with its code and marks the channel', async () => {
    const fake = await startPagingFake();
    try {
      const a = app();
      await call(a, 'PUT', '/api/settings/channels/ops', A, {
        config: { kind: 'slack', webhookUrl: `${fake.url}/slack/services/T000/B000/XXXX` },
      });
      const ok = await call(a, 'POST', '/api/settings/channels/ops/test', A);
      expect(ok.status).toBe(200);
      expect(ok.body).toMatchObject({ ok: true, channels: [{ id: 'ops', health: { state: 'ok' } }] });
      expect((fake.received[0]!.json as { text: string }).text).toContain('Stagekeeper test page');

      fake.script('/slack/services/T000/B000/XXXX', { status: 404, body: 'channel_not_found' });
      const refused = await call(a, 'POST', '/api/settings/channels/ops/test', A);
      expect(refused.body).toMatchObject({
        ok: false,
        code: 'channel_not_found',
        channels: [{ id: 'ops', health: { state: 'failing' } }],
      });

      await call(a, 'PUT', '/api/settings/channels/pd', A, {
        config: {
          kind: 'pagerduty',
          routingKey: 'R'.repeat(32),
          eventsUrl: `${fake.url}/pagerduty/v2/enqueue`,
        },
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
