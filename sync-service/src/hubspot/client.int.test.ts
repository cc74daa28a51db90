import { Client } from '@hubspot/api-client';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SandboxPortal, startSandboxServer, type SandboxServer } from '../../../test/sandbox';
import { HubSpotCaller } from './call';
import { HubSpotClientFactory, OAuthTokenProvider, type OAuthTokens, type TokenStore } from './client';
import { HubSpotRequestError } from './errors';
import { RedisRateLimiter } from './limiter';

// OAuth against the sandbox's /oauth/v1/token with the real client; the portal's clock decides expiry.
const prefix = `sktest-oauth-${process.pid}-${Date.now()}`;
let portal: SandboxPortal;
let server: SandboxServer;
let redis: Redis;
let skew = 0;

class MemoryStore implements TokenStore {
  readonly data = new Map<string, OAuthTokens>();
  writes = 0;
  async get(portalId: string) {
    return this.data.get(portalId) ?? null;
  }
  async set(portalId: string, t: OAuthTokens) {
    this.writes++;
    this.data.set(portalId, t);
  }
}

async function install(store: MemoryStore): Promise<string> {
  const code = portal.tokens.issueCode('https://stagekeeper.test/oauth/callback');
  const t = await new Client({ basePath: server.url }).oauth.tokensApi.create(
    'authorization_code',
    code,
    'https://stagekeeper.test/oauth/callback',
    portal.clientId,
    portal.clientSecret,
  );
  const portalId = String(portal.portalId);
  await store.set(portalId, {
    accessToken: t.accessToken,
    refreshToken: t.refreshToken,
    expiresAt: Date.now() + t.expiresIn * 1000,
  });
  return portalId;
}

function setup(store: MemoryStore, now: () => number = Date.now) {
  const tokens = new OAuthTokenProvider({
    clientId: portal.clientId,
    clientSecret: portal.clientSecret,
    store,
    basePath: server.url,
    now,
  });
  const caller = new HubSpotCaller({
    clients: new HubSpotClientFactory({ tokens, basePath: server.url }),
    limiter: new RedisRateLimiter({
      redis,
      prefix,
      plan: { default: { max: 500, windowMs: 10_000 }, search: { max: 5, windowMs: 1_000 } },
    }),
    metrics: { inc: () => {} },
  });
  return { tokens, caller };
}

const tokenCalls = (mark: number) =>
  portal.requests.slice(mark).filter((r) => r.path === '/oauth/v1/token').length;
const listDeals = (c: Client) => c.crm.deals.basicApi.getPage(10);

beforeAll(async () => {
  portal = new SandboxPortal();
  portal.now = () => Date.now() + skew;
  server = await startSandboxServer({ portal });
  redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 3 });
});
beforeEach(() => {
  skew = 0;
});
afterAll(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
  await server.close();
});

describe('OAuthTokenProvider', () => {
  it('HubSpot says EXPIRED_AUTHENTICATION: one refresh for many concurrent calls, then they all go through', async () => {
    const store = new MemoryStore();
    const portalId = await install(store);
    const { caller } = setup(store);
    await caller.call(portalId, 'deals.list', listDeals);

    skew = 31 * 60_000; // HubSpot's clock says the 30-minute token is dead; ours does not know yet.
    const mark = portal.requests.length;
    await Promise.all(Array.from({ length: 5 }, () => caller.call(portalId, 'deals.list', listDeals)));
    const statuses = portal.requests.slice(mark).map((r) => r.status);
    expect(statuses.filter((s) => s === 401).length).toBeGreaterThan(0);
    expect(tokenCalls(mark)).toBe(1);
    expect(store.writes).toBe(2); // install + one refresh
  });

  it('refreshes about five minutes before expiry, so no call goes out with a dying token', async () => {
    const store = new MemoryStore();
    const portalId = await install(store);
    const expiresAt = store.data.get(portalId)!.expiresAt;
    let now = expiresAt - 4 * 60_000;
    const { caller } = setup(store, () => now);
    const before = store.data.get(portalId)!.accessToken;
    const mark = portal.requests.length;
    await caller.call(portalId, 'deals.list', listDeals);
    expect(portal.requests.slice(mark).map((r) => `${r.path} ${r.status}`)).toEqual([
      '/oauth/v1/token 200',
      '/crm/v3/objects/deals 200',
    ]);
    const after = store.data.get(portalId)!;
    expect(after.accessToken).not.toBe(before);
    // expires_in honoured: 1800 s from when we asked.
    expect(after.expiresAt).toBe(now + 1800 * 1000);
    now += 60_000;
    const mark2 = portal.requests.length;
    await caller.call(portalId, 'deals.list', listDeals);
    expect(tokenCalls(mark2)).toBe(0);
  });

  it('a revoked install fails with a request error instead of looping', async () => {
    const store = new MemoryStore();
    const portalId = await install(store);
    const { caller } = setup(store, () => store.data.get(portalId)!.expiresAt - 60_000);
    portal.tokens.revokeRefreshToken(store.data.get(portalId)!.refreshToken);
    // The refresh is refused (400 BAD_REFRESH_TOKEN): no retry, no API call with a dead token.
    const mark = portal.requests.length;
    const err = await caller.call(portalId, 'deals.list', listDeals).catch((e) => e);
    expect(err).toBeInstanceOf(HubSpotRequestError);
    expect(err).toMatchObject({ operation: 'oauth.refresh', status: 400 });
    expect(portal.requests.slice(mark).map((r) => `${r.path} ${r.status}`)).toEqual(['/oauth/v1/token 400']);

    // Revocation also kills the access token: HubSpot answers INVALID_AUTHENTICATION; one refresh (a 401 may be
    // a stale token) is refused, and that is the end of it: no loop.
    const { caller: fresh } = setup(store);
    const mark2 = portal.requests.length;
    const err2 = await fresh.call(portalId, 'deals.list', listDeals).catch((e) => e);
    expect(err2).toMatchObject({ name: 'HubSpotRequestError', operation: 'oauth.refresh', status: 400 });
    expect(portal.requests.slice(mark2).map((r) => `${r.path} ${r.status}`)).toEqual([
      '/crm/v3/objects/deals 401',
      '/oauth/v1/token 400',
    ]);
  });
});

describe('HubSpotClientFactory', () => {
  it("carries the generated client's calls over node:http on one kept-alive socket, not fetch", async () => {
    // fetch (undici) took ~1 ms of service CPU per HubSpot call in the cost bench's profile (web streams, a cloned
    // request, its own parser); node:http with a keep-alive agent does the same call for a fraction of that.
    const store = new MemoryStore();
    const portalId = await install(store);
    const { caller } = setup(store);
    const realFetch = globalThis.fetch;
    let fetched = 0;
    globalThis.fetch = (...args: Parameters<typeof fetch>) => {
      fetched++;
      return realFetch(...args);
    };
    let opened: number;
    try {
      await caller.call(portalId, 'deals.list', listDeals);
      const connections = server.connections();
      const mark = portal.requests.length;
      for (let i = 0; i < 3; i++) await caller.call(portalId, 'deals.list', listDeals);
      expect(portal.requests.slice(mark).map((r) => r.status)).toEqual([200, 200, 200]);
      opened = server.connections() - connections;
    } finally {
      globalThis.fetch = realFetch;
    }
    expect(fetched).toBe(0);
    expect(opened).toBe(0);
  });
});
