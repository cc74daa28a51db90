import { randomBytes } from 'node:crypto';
import type { Express } from 'express';
import { Redis } from 'ioredis';
import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PROPERTY_GROUP, WRITTEN_BACK_PROPERTIES } from '@stagekeeper/shared';
import { manualClock, SandboxPortal, signV3, startSandboxServer, type ManualClock, type SandboxServer } from '../../../test/sandbox';
import { ConfigError, loadConfig } from '../config';
import { createApp } from '../http/app';
import type { HubSpotCaller } from '../hubspot/call';
import { NoTokenError, OAuthTokenProvider, StaticTokenProvider } from '../hubspot/client';
import { testPlaybook } from '../hubspot/test-playbook';
import { createLogger, silentLogger } from '../log';
import { PlaybookStore } from '../state/playbook-store';
import { redisKeys } from '../state/keys';
import { deletePrefix } from '../testing/fakes';
import { sandboxCaller, startSandboxPortal } from '../testing/sandbox-portal';
import { installKeys } from './keys';
import { createTokenProvider } from './mode';
import { createOAuthRouter } from './oauth';
import { installRoutes } from './routes';
import { provisionerFor, type ProvisionPortal } from './provisioning';
import { ReloadableTokenProvider } from './reloadable-provider';
import { InstallRegistry } from './registry';
import { REQUIRED_SCOPES } from './scopes';
import { EncryptedRedisTokenStore, StoredTokensUnreadableError } from './token-store';

// The install flow end to end: the real router inside the real HTTP app, Redis, and the sandbox portal's OAuth.
const prefix = `sktest-inst-${process.pid}-${Date.now() % 1e6}`;
const PUBLIC_URL = 'https://sk.example.test';
const REDIRECT = `${PUBLIC_URL}/oauth/callback`;
const KEY = randomBytes(32).toString('base64');
const keys = installKeys(prefix);

let clock: ManualClock;
let portal: SandboxPortal;
let server: SandboxServer;
let redis: Redis;
let store: EncryptedRedisTokenStore;
let registry: InstallRegistry;
let tokens: ReloadableTokenProvider;
let caller: HubSpotCaller;
let playbooks: PlaybookStore;
let logLines: string[];
let portalId: string;

function buildApp(over: { stateTtlMs?: number; provisionPortal?: ProvisionPortal } = {}): Express {
  const log = createLogger('debug', { write: (s: string) => void logLines.push(s) });
  const router = createOAuthRouter({
    clientId: portal.clientId,
    clientSecret: portal.clientSecret,
    redirectUri: REDIRECT,
    redis,
    prefix,
    tokens: store,
    registry,
    provisionPortal: provisionerFor({ caller, playbooks }),
    tokenCache: tokens,
    log,
    basePath: server.url,
    publicUrl: PUBLIC_URL,
    clock: clock.now,
    ...over,
  });
  return createApp({
    clientSecret: portal.clientSecret,
    publicUrl: PUBLIC_URL,
    maxBodyBytes: 1024 * 1024,
    enqueue: async () => undefined,
    readiness: async () => {},
    log: silentLogger,
    clock: clock.now,
    routers: [{ path: '/oauth', router }],
  }) as unknown as Express;
}

/** What a browser does: open /oauth/install, keep the cookie, follow HubSpot's redirect back with a fresh code. */
async function startInstall(app: Express) {
  const res = await request(app).get('/oauth/install').expect(302);
  const location = new URL(res.headers.location as string);
  const state = location.searchParams.get('state')!;
  const setCookie = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
  const cookie = setCookie.map((c) => c.split(';')[0]!).join('; ');
  return { res, location, state, cookie, setCookie };
}

const mintCode = (scopes: string[] = [...REQUIRED_SCOPES]) => portal.tokens.issueCode(REDIRECT, scopes);
const callback = (app: Express, q: Record<string, string>, cookie?: string) => {
  const r = request(app).get(`/oauth/callback?${new URLSearchParams(q)}`);
  return cookie ? r.set('Cookie', cookie) : r;
};
const tokenRequests = () => portal.count('POST', '/oauth/v1/token');
const storedKeys = async () => (await redis.keys(`${prefix}:*`)).filter((k) => !k.includes(':oauth:state:') && !k.includes(':rl:')).sort();

beforeAll(async () => {
  clock = manualClock(Date.now());
  // The installing user (token info's user_id) is the portal's first owner's user.
  ({ portal, server } = await startSandboxPortal({ now: clock.now, owners: [{ id: '501', email: 'admin@clinic.test' }] }));
  redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 3 });
  portalId = String(portal.portalId);
  store = new EncryptedRedisTokenStore({ redis, prefix, keys: KEY });
  registry = new InstallRegistry(redis, prefix, clock.now);
  tokens = new ReloadableTokenProvider(
    () => new OAuthTokenProvider({ clientId: portal.clientId, clientSecret: portal.clientSecret, store, basePath: server.url, now: clock.now }),
  );
  caller = sandboxCaller({ portal, server }, { redis, prefix, tokens });
  playbooks = new PlaybookStore(redis, redisKeys(prefix), silentLogger);
});

beforeEach(() => {
  logLines = [];
});

afterAll(async () => {
  await deletePrefix(redis, prefix);
  redis.disconnect();
  await server.close();
});

describe('GET /oauth/install', () => {
  it('redirects to HubSpot with client id, redirect URI, the app scopes and a single-use state bound to a cookie', async () => {
    const app = buildApp();
    const { location, state, setCookie } = await startInstall(app);
    expect(`${location.origin}${location.pathname}`).toBe('https://app.hubspot.com/oauth/authorize');
    expect(location.searchParams.get('client_id')).toBe(portal.clientId);
    expect(location.searchParams.get('redirect_uri')).toBe(REDIRECT);
    expect(location.searchParams.get('scope')!.split(' ')).toEqual([...REQUIRED_SCOPES]);
    expect(state).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const ttl = await redis.pttl(keys.oauthState(state));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(10 * 60_000);
    expect(setCookie).toHaveLength(1);
    expect(setCookie[0]).toContain(`sk_oauth_state=${state}`);
    expect(setCookie[0]).toMatch(/Path=\/oauth\/callback;.*HttpOnly; SameSite=Lax; Secure/);

    const second = await startInstall(app);
    expect(second.state).not.toBe(state);
  });
});

describe('GET /oauth/callback refuses states it did not issue, or issued and already used or expired', () => {
  it('unknown, malformed, missing state, or no cookie: 400, nothing exchanged or stored', async () => {
    const app = buildApp();
    const before = await storedKeys();
    const calls = tokenRequests();
    const unknown = randomBytes(32).toString('base64url');

    const r1 = await callback(app, { code: mintCode(), state: unknown }, `sk_oauth_state=${unknown}`).expect(400);
    expect(r1.text).toContain('expired or already used');
    await callback(app, { code: mintCode(), state: 'not:a*state' }).expect(400);
    await callback(app, { code: mintCode() }).expect(400);

    // A state we issued, but presented by a browser without the install cookie (a forged callback link).
    const { state } = await startInstall(app);
    const r2 = await callback(app, { code: mintCode(), state }).expect(400);
    expect(r2.text).toContain('another browser');
    // …and it is spent: the right browser cannot use it afterwards either.
    await callback(app, { code: mintCode(), state }, `sk_oauth_state=${state}`).expect(400);

    expect(tokenRequests()).toBe(calls);
    expect(await storedKeys()).toEqual(before);
  });

  it('an expired state: 400, nothing stored', async () => {
    const app = buildApp({ stateTtlMs: 50 });
    const { state, cookie } = await startInstall(app);
    await new Promise((r) => setTimeout(r, 120));
    const before = await storedKeys();
    const res = await callback(app, { code: mintCode(), state }, cookie).expect(400);
    expect(res.text).toContain('expired or already used');
    expect(await storedKeys()).toEqual(before);
  });

  it('HubSpot refusing the code (unknown code): 400 naming HubSpot\'s reason, nothing stored, code never logged', async () => {
    const app = buildApp();
    const { state, cookie } = await startInstall(app);
    const before = await storedKeys();
    const res = await callback(app, { code: 'not-a-real-code-4711', state }, cookie).expect(400);
    expect(res.text).toContain('BAD_AUTH_CODE');
    expect(await storedKeys()).toEqual(before);
    expect(logLines.join('')).not.toContain('not-a-real-code-4711');
    expect(logLines.join('')).toContain('oauth code exchange failed');
  });

  it('the admin declining in HubSpot (error=access_denied): 400, state spent', async () => {
    const app = buildApp();
    const { state, cookie } = await startInstall(app);
    await callback(app, { error: 'access_denied', state }, cookie).expect(400);
    expect(await redis.exists(keys.oauthState(state))).toBe(0);
  });
});

describe('install, refresh, uninstall against the sandbox portal', () => {
  let firstAccessToken = '';

  it('happy path: tokens stored encrypted, portal registered, properties provisioned, status recorded; state single use', async () => {
    const app = buildApp();
    const { state, cookie } = await startInstall(app);
    const code = mintCode();
    const installedAt = clock.now();

    const res = await callback(app, { code, state }, cookie).expect(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.text).toContain('Stagekeeper is connected');
    expect(res.text).toContain(`Properties provisioned (${WRITTEN_BACK_PROPERTIES.length}/${WRITTEN_BACK_PROPERTIES.length})`);
    expect(res.text).toContain('No playbook yet');

    // Tokens: readable through the store, unreadable in Redis.
    const stored = await store.get(portalId);
    expect(stored).not.toBeNull();
    expect(stored!.expiresAt).toBe(installedAt + 1800 * 1000);
    firstAccessToken = stored!.accessToken;
    const raw = (await redis.get(keys.tokens(portalId)))!;
    expect(raw.startsWith('sk1.')).toBe(true);
    expect(raw).not.toContain(stored!.accessToken);
    expect(raw).not.toContain(stored!.refreshToken);
    expect(raw).not.toContain(stored!.refreshToken.slice(4, 20));

    // Registered for the sweep, status for the settings page.
    expect(await redis.sismember(redisKeys(prefix).portals(), portalId)).toBe(1);
    const status = await registry.get(portalId);
    expect(status).toMatchObject({
      portalId,
      installed: true,
      installedAt: new Date(installedAt).toISOString(),
      uninstalledAt: null,
      mode: 'oauth',
      scopes: [...REQUIRED_SCOPES],
      missingScopes: [],
      provisioning: {
        state: 'complete',
        propertiesExpected: WRITTEN_BACK_PROPERTIES.length,
        propertiesPresent: WRITTEN_BACK_PROPERTIES.length,
        error: null,
        issues: [],
        checkedPlaybook: false,
      },
    });

    // Provisioning reached the portal with the installed token.
    expect(portal.catalogs.deals.getGroup(PROPERTY_GROUP.name).label).toBe(PROPERTY_GROUP.label);
    for (const p of WRITTEN_BACK_PROPERTIES) expect(portal.catalogs.deals.get(p.name)?.groupName).toBe(PROPERTY_GROUP.name);

    // Nothing secret in the logs.
    const logs = logLines.join('');
    for (const secret of [code, state, stored!.accessToken, stored!.refreshToken]) expect(logs).not.toContain(secret);
    expect(logs).toContain('app installed');

    // The same state cannot install twice, even with a fresh code.
    const calls = tokenRequests();
    await callback(app, { code: mintCode(), state }, cookie).expect(400);
    expect(tokenRequests()).toBe(calls);
    expect((await store.get(portalId))!.accessToken).toBe(firstAccessToken);
  });

  it('refreshes before expiry with the stored refresh token and stores the new access token encrypted', async () => {
    const before = (await store.get(portalId))!;
    const refreshCalls = tokenRequests();
    // 26 minutes in: inside the provider's 5-minute early window, still valid at HubSpot.
    clock.advance(26 * 60_000);
    const fresh = await tokens.accessToken(portalId);
    expect(fresh).not.toBe(before.accessToken);
    expect(tokenRequests()).toBe(refreshCalls + 1);
    const last = portal.requests.filter((r) => r.path === '/oauth/v1/token').at(-1)!;
    expect(last.status).toBe(200);

    const after = (await store.get(portalId))!;
    expect(after.accessToken).toBe(fresh);
    expect(after.refreshToken).toBe(before.refreshToken);
    expect(after.expiresAt).toBe(clock.now() + 1800 * 1000);
    expect(await redis.get(keys.tokens(portalId))).not.toContain(fresh);

    // Past the first token's life: HubSpot refuses it, the refreshed one works, and no second refresh happens.
    clock.advance(5 * 60_000);
    expect(() => portal.tokens.authenticate(`Bearer ${before.accessToken}`)).toThrow(/expired/);
    const page = await caller.call(portalId, 'deals.list', (c) => c.crm.deals.basicApi.getPage(5));
    expect(page.results).toBeDefined();
    expect(tokenRequests()).toBe(refreshCalls + 1);
  });

  it('an unreadable blob fails that portal with a clear error, without crashing or touching other portals', async () => {
    const other = '99887766';
    await store.set(other, { accessToken: 'x-access', refreshToken: 'x-refresh', expiresAt: clock.now() + 60 * 60_000 });
    const good = await redis.get(keys.tokens(other));
    await redis.set(keys.tokens(other), `${good!.slice(0, -6)}AAAAAA`);
    await expect(store.get(other)).rejects.toMatchObject({ name: 'StoredTokensUnreadableError', reason: 'auth_failed', portalId: other });

    const provider = new OAuthTokenProvider({ clientId: portal.clientId, clientSecret: portal.clientSecret, store, basePath: server.url, now: clock.now });
    await expect(provider.accessToken(other)).rejects.toBeInstanceOf(StoredTokensUnreadableError);
    await expect(provider.accessToken(portalId)).resolves.toBeTruthy();

    // A copy of this portal's blob under another portal's key fails authentication too.
    await redis.set(keys.tokens(other), (await redis.get(keys.tokens(portalId)))!);
    await expect(store.get(other)).rejects.toMatchObject({ reason: 'auth_failed' });
    await redis.del(keys.tokens(other));
  });

  it('a store with a different key cannot read the tokens', async () => {
    const wrong = new EncryptedRedisTokenStore({ redis, prefix, keys: randomBytes(32).toString('hex') });
    await expect(wrong.get(portalId)).rejects.toMatchObject({ reason: 'unknown_key' });
    const rotated = new EncryptedRedisTokenStore({ redis, prefix, keys: `${randomBytes(32).toString('hex')},${KEY}` });
    expect((await rotated.get(portalId))?.accessToken).toBe(await tokens.accessToken(portalId));
  });

  it('POST /oauth/uninstall needs a valid signature', async () => {
    const app = buildApp();
    const url = `/oauth/uninstall?portalId=${portalId}`;
    await request(app).post(url).expect(401);
    const ts = clock.now();
    await request(app)
      .post(url)
      .set('X-HubSpot-Signature-v3', signV3('wrong-secret', 'POST', `${PUBLIC_URL}${url}`, '', ts))
      .set('X-HubSpot-Request-Timestamp', String(ts))
      .expect(401);
    expect(await redis.exists(keys.tokens(portalId))).toBe(1);
  });

  /** A signed uninstall as the settings page sends it (hubspot.fetch appends userId, userEmail, appId, portalId). */
  const signedUninstall = (app: Express, userId: string | null) => {
    const url = `/oauth/uninstall?portalId=${portalId}${userId === null ? '' : `&userId=${userId}`}&userEmail=admin%40clinic.test&appId=${portal.appId}`;
    const ts = clock.now();
    return request(app)
      .post(url)
      .set('X-HubSpot-Signature-v3', signV3(portal.clientSecret, 'POST', `${PUBLIC_URL}${url.replace('%40', '@')}`, '', ts))
      .set('X-HubSpot-Request-Timestamp', String(ts));
  };

  it('the installing user is kept as the portal admin; uninstall by anyone else, or without userId, is 403 and keeps the tokens', async () => {
    const installer = String(portal.owners.first()!.userId);
    expect(await registry.isAdmin(portalId, installer)).toBe(true);
    const app = buildApp();
    const other = await signedUninstall(app, String(Number(installer) + 1)).expect(403);
    expect(other.body.error.code).toBe('forbidden');
    await signedUninstall(app, null).expect(403);
    expect(await redis.exists(keys.tokens(portalId))).toBe(1);
    expect((await registry.get(portalId)).installed).toBe(true);
  });

  it('uninstall: refresh token revoked at HubSpot, tokens deleted, portal off the sweep, status says not installed', async () => {
    const app = buildApp();
    const { refreshToken } = (await store.get(portalId))!;
    await redis.set(redisKeys(prefix).sweepCursor(portalId), String(clock.now()));
    const url = `/oauth/uninstall?portalId=${portalId}&userId=${portal.owners.first()!.userId}&userEmail=admin%40clinic.test&appId=${portal.appId}`;
    const ts = clock.now();
    const res = await request(app)
      .post(url)
      // HubSpot signs the URL with %40 decoded (see webhooks/signature.ts).
      .set('X-HubSpot-Signature-v3', signV3(portal.clientSecret, 'POST', `${PUBLIC_URL}${url.replace('%40', '@')}`, '', ts))
      .set('X-HubSpot-Request-Timestamp', String(ts))
      .expect(200);
    expect(res.body).toEqual({ portalId: Number(portalId), installed: false });

    expect(await redis.exists(keys.tokens(portalId))).toBe(0);
    expect(await store.get(portalId)).toBeNull();
    expect(await redis.sismember(redisKeys(prefix).portals(), portalId)).toBe(0);
    expect(await redis.exists(redisKeys(prefix).sweepCursor(portalId))).toBe(0);
    expect(() => portal.tokens.exchange(new URLSearchParams({ grant_type: 'refresh_token', client_id: portal.clientId, client_secret: portal.clientSecret, refresh_token: refreshToken }))).toThrow(/refresh token/);
    const status = await registry.get(portalId);
    expect(status).toMatchObject({ installed: false, uninstalledAt: new Date(ts).toISOString() });
    expect(await redis.exists(keys.admins(portalId))).toBe(0);

    // A fresh provider (another process) has nothing to use for this portal any more.
    const provider = new OAuthTokenProvider({ clientId: portal.clientId, clientSecret: portal.clientSecret, store, basePath: server.url, now: clock.now });
    await expect(provider.accessToken(portalId)).rejects.toBeInstanceOf(NoTokenError);
    expect(logLines.join('')).not.toContain(refreshToken);
  });

  it('reinstall with a playbook: provisioning checks it and reports what the portal lacks; missing scopes are recorded', async () => {
    await playbooks.save(portalId, testPlaybook());
    clock.advance(60_000);
    const app = buildApp();
    const { state, cookie } = await startInstall(app);
    const narrow = REQUIRED_SCOPES.filter((s) => s !== 'crm.objects.owners.read');
    const res = await callback(app, { code: mintCode(narrow), state }, cookie).expect(200);
    expect(res.text).toContain('crm.objects.owners.read');

    const status = await registry.get(portalId);
    expect(status.installed).toBe(true);
    expect(status.installedAt).toBe(new Date(clock.now()).toISOString());
    expect(status.missingScopes).toEqual(['crm.objects.owners.read']);
    expect(status.provisioning.checkedPlaybook).toBe(true);
    expect(status.provisioning.state).toBe('complete');
    expect(status.provisioning.issues).toEqual([
      'deal property "intake_form_received" is read by the playbook but missing in the portal',
      'deal property "waiting_on" is read by the playbook but missing in the portal',
    ]);
    expect(await redis.sismember(redisKeys(prefix).portals(), portalId)).toBe(1);
    expect((await store.get(portalId))!.accessToken).not.toBe(firstAccessToken);
  });
});

describe('provisioning outcomes in the install status', () => {
  it('provisioning failing during install: tokens kept, portal registered, status failed with one sentence', async () => {
    const other = new SandboxPortal({ now: clock.now, portalId: 31337, clientId: portal.clientId, clientSecret: portal.clientSecret });
    const otherServer = await startSandboxServer({ portal: other });
    try {
      const app = createApp({
        clientSecret: portal.clientSecret,
        maxBodyBytes: 1024,
        enqueue: async () => undefined,
        readiness: async () => {},
        log: silentLogger,
        routers: [
          {
            path: '/oauth',
            router: createOAuthRouter({
              clientId: other.clientId,
              clientSecret: other.clientSecret,
              redirectUri: REDIRECT,
              redis,
              prefix,
              tokens: store,
              registry,
              provisionPortal: async () => {
                throw Object.assign(new Error('HTTP-Code: 403'), { code: 403, body: { status: 'error', category: 'MISSING_SCOPES' } });
              },
              log: silentLogger,
              basePath: otherServer.url,
              clock: clock.now,
            }),
          },
        ],
      }) as unknown as Express;
      const { state, cookie } = await startInstall(app);
      const res = await callback(app, { code: other.tokens.issueCode(REDIRECT, [...REQUIRED_SCOPES]), state }, cookie).expect(200);
      expect(res.text).toContain('setup incomplete');
      expect(await store.get('31337')).not.toBeNull();
      expect(await redis.sismember(redisKeys(prefix).portals(), '31337')).toBe(1);
      const status = await registry.get('31337');
      expect(status.installed).toBe(true);
      expect(status.provisioning).toMatchObject({ state: 'failed', error: expect.stringMatching(/^HubSpot refused a provisioning request \(403\)/) });
    } finally {
      await otherServer.close();
      await registry.markUninstalled('31337');
    }
  });

  it('properties that could not be brought in line count as missing; a damaged status record reads as the default', async () => {
    const names = WRITTEN_BACK_PROPERTIES.map((p) => p.name);
    await registry.markProvisioning('777');
    await registry.markProvisioned(
      '777',
      {
        group: 'exists',
        created: names.slice(2),
        existing: [],
        updated: [],
        mismatches: [`property "${names[0]}" exists with type "string", Stagekeeper writes "enumeration": change or delete it in HubSpot`],
        missingProperties: [],
        warnings: [],
        ok: false,
      },
      { checkedPlaybook: false },
    );
    const status = await registry.get('777');
    expect(status.provisioning).toMatchObject({
      state: 'failed',
      propertiesPresent: names.length - 2,
      error: '2 Stagekeeper properties could not be created or updated',
    });
    expect(status.provisioning.issues).toHaveLength(1);

    await redis.hset(keys.status('777'), 'install', '{not json');
    expect(await registry.get('777')).toMatchObject({ installed: false, installedAt: null, provisioning: { state: 'failed' } });
    await redis.del(keys.status('777'));
  });
});

describe('createTokenProvider', () => {
  const env = (extra: Record<string, string>) =>
    loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379', KEY_PREFIX: prefix, HUBSPOT_CLIENT_SECRET: 'secret', LOG_LEVEL: 'silent', ...extra });

  it('static token mode: a private-app token for one portal, registered at start', async () => {
    const mode = await createTokenProvider(env({ HUBSPOT_ACCESS_TOKEN: 'pat-na1-static', HUBSPOT_PORTAL_ID: '5550001' }), redis);
    expect(mode.kind).toBe('static');
    expect(mode.tokens).toBeInstanceOf(StaticTokenProvider);
    expect(await mode.tokens.accessToken('5550001')).toBe('pat-na1-static');
    await expect(mode.tokens.accessToken('5550002')).rejects.toBeInstanceOf(NoTokenError);
    expect(await redis.sismember(redisKeys(prefix).portals(), '5550001')).toBe(1);
    expect(await mode.registry.get('5550001')).toMatchObject({ installed: true, mode: 'static', scopes: null, missingScopes: [] });
  });

  it('OAuth mode: encrypted Redis store behind the refreshing provider; the callback URL from PUBLIC_URL', async () => {
    const mode = await createTokenProvider(env({ HUBSPOT_CLIENT_ID: 'cid', TOKEN_ENCRYPTION_KEY: KEY, PUBLIC_URL: PUBLIC_URL }), redis);
    expect(mode.kind).toBe('oauth');
    if (mode.kind !== 'oauth') return;
    expect(mode.tokens).toBeInstanceOf(ReloadableTokenProvider);
    expect(mode.redirectUri).toBe(REDIRECT);
    await mode.store.set('5550003', { accessToken: 'a', refreshToken: 'r', expiresAt: Date.now() + 3600_000 });
    expect(await mode.tokens.accessToken('5550003')).toBe('a');
    await mode.store.delete('5550003');

    const app = createApp({
      clientSecret: 'secret',
      maxBodyBytes: 1024,
      enqueue: async () => undefined,
      readiness: async () => {},
      log: silentLogger,
      routers: [installRoutes(mode, { config: env({ HUBSPOT_CLIENT_ID: 'cid', TOKEN_ENCRYPTION_KEY: KEY, PUBLIC_URL }), redis, log: silentLogger })],
    }) as unknown as Express;
    const location = new URL((await request(app).get('/oauth/install').expect(302)).headers.location as string);
    expect(location.searchParams.get('client_id')).toBe('cid');
    expect(location.searchParams.get('redirect_uri')).toBe(REDIRECT);
  });

  it('the install routes need PUBLIC_URL (HubSpot must be able to call back)', async () => {
    const config = env({ HUBSPOT_CLIENT_ID: 'cid', TOKEN_ENCRYPTION_KEY: KEY });
    const mode = await createTokenProvider(config, redis);
    if (mode.kind !== 'oauth') throw new Error('expected OAuth mode');
    expect(() => installRoutes(mode, { config, redis, log: silentLogger })).toThrow(/PUBLIC_URL: required/);
  });

  it('OAuth mode without TOKEN_ENCRYPTION_KEY is a configuration error; a malformed key is refused at load', async () => {
    await expect(createTokenProvider(env({ HUBSPOT_CLIENT_ID: 'cid' }), redis)).rejects.toThrow(ConfigError);
    await expect(createTokenProvider(env({ HUBSPOT_CLIENT_ID: 'cid' }), redis)).rejects.toThrow(/TOKEN_ENCRYPTION_KEY: required/);
    expect(() => env({ HUBSPOT_CLIENT_ID: 'cid', TOKEN_ENCRYPTION_KEY: 'too-short-secret' })).toThrow(/TOKEN_ENCRYPTION_KEY: key 1: expected 32 random bytes/);
    try {
      env({ HUBSPOT_CLIENT_ID: 'cid', TOKEN_ENCRYPTION_KEY: 'too-short-secret' });
    } catch (err) {
      expect((err as Error).message).not.toContain('too-short-secret');
    }
  });
});
