import { Client } from '@hubspot/api-client';
import { randomBytes } from 'node:crypto';
import type { Express } from 'express';
import { Redis } from 'ioredis';
import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadExamplePlaybook, PROPERTY_GROUP, WRITTEN_BACK_PROPERTIES } from '@stagekeeper/shared';
import {
  manualClock,
  SandboxPortal,
  seedFromPlaybook,
  signV3,
  startSandboxServer,
  type ManualClock,
  type SandboxServer,
} from '../../../test/sandbox';
import { ConfigError, loadConfig } from '../config';
import { createApp } from '../http/app';
import { ReplayStore } from '../http/replay-store';
import type { HubSpotCaller } from '../hubspot/call';
import { HubSpotRequestError } from '../hubspot/errors';
import { NoTokenError, OAuthTokenProvider, StaticTokenProvider } from '../hubspot/client';
import { testPlaybook } from '../hubspot/test-playbook';
import { createLogger, silentLogger } from '../log';
import { PlaybookStore } from '../state/playbook-store';
import { redisKeys } from '../state/keys';
import { deletePrefix } from '../testing/fakes';
import { sandboxCaller, startSandboxPortal } from '../testing/sandbox-portal';
import { AccountTimeZones } from '../hubspot/account-zone';
import { createTokenProvider } from './mode';
import { createOAuthRouter } from './oauth';
import { uninstalledInHubSpot } from './uninstall';
import { OAuthStateSigner } from './oauth-state';
import { installRoutes } from './routes';
import { provisionerFor, type ProvisionPortal } from './provisioning';
import { ReloadableTokenProvider } from './reloadable-provider';
import { InstallRegistry } from './registry';
import { OPTIONAL_SCOPES, REQUIRED_SCOPES } from './scopes';
import { EncryptedRedisTokenStore, StoredTokensUnreadableError } from './token-store';

// The install flow end to end: the real router inside the real HTTP app, Redis, and the sandbox portal's OAuth.
const prefix = `sktest-inst-${process.pid}-${Date.now() % 1e6}`;
const PUBLIC_URL = 'https://sk.example.test';
const REDIRECT = `${PUBLIC_URL}/oauth/callback`;
const KEY = randomBytes(32).toString('base64');
const keys = redisKeys(prefix);

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
    tokens: store,
    registry,
    provisionPortal: provisionerFor({
      caller,
      playbooks,
      zones: new AccountTimeZones(redis, redisKeys(prefix)),
    }),
    tokenCache: tokens,
    log,
    basePath: server.url,
    publicUrl: PUBLIC_URL,
    clock: clock.now,
    replay: new ReplayStore(redis, redisKeys(prefix)),
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

/** The install router for a second sandbox portal (same app credentials), with its own provisioning. */
function otherPortalApp(
  other: SandboxPortal,
  otherServer: SandboxServer,
  provisionPortal: ProvisionPortal,
): Express {
  const router = createOAuthRouter({
    clientId: other.clientId,
    clientSecret: other.clientSecret,
    redirectUri: REDIRECT,
    tokens: store,
    registry,
    provisionPortal,
    log: silentLogger,
    basePath: otherServer.url,
    clock: clock.now,
  });
  return createApp({
    clientSecret: portal.clientSecret,
    maxBodyBytes: 1024,
    enqueue: async () => undefined,
    readiness: async () => {},
    log: silentLogger,
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
const storedKeys = async () =>
  (await redis.keys(`${prefix}:*`)).filter((k) => !k.includes(':oauth:state:') && !k.includes(':rl:')).sort();

beforeAll(async () => {
  clock = manualClock(Date.now());
  // The installing user (token info's user_id) is the portal's first owner's user.
  ({ portal, server } = await startSandboxPortal({
    now: clock.now,
    owners: [{ id: '501', email: 'admin@clinic.test' }],
  }));
  redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 3 });
  portalId = String(portal.portalId);
  store = new EncryptedRedisTokenStore({ redis, prefix, keys: KEY });
  registry = new InstallRegistry(redis, prefix, clock.now);
  tokens = new ReloadableTokenProvider(
    () =>
      new OAuthTokenProvider({
        clientId: portal.clientId,
        clientSecret: portal.clientSecret,
        store,
        basePath: server.url,
        now: clock.now,
      }),
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
  it('redirects to HubSpot with client id, redirect URI, the app scopes and a signed state bound to a cookie; writes nothing', async () => {
    const app = buildApp();
    const before = await redis.keys(`${prefix}:*`);
    const { location, state, setCookie } = await startInstall(app);
    expect(`${location.origin}${location.pathname}`).toBe('https://app.hubspot.com/oauth/authorize');
    expect(location.searchParams.get('client_id')).toBe(portal.clientId);
    expect(location.searchParams.get('redirect_uri')).toBe(REDIRECT);
    expect(location.searchParams.get('scope')!.split(' ')).toEqual([...REQUIRED_SCOPES]);
    expect(state).toMatch(/^[A-Za-z0-9_-]{22}\.[0-9a-z]+\.[A-Za-z0-9_-]{43}$/);
    expect(setCookie).toHaveLength(1);
    expect(setCookie[0]).toContain(`sk_oauth_state=${state}`);
    expect(setCookie[0]).toMatch(/Path=\/oauth\/callback; Max-Age=600; HttpOnly; SameSite=Lax; Secure/);

    const second = await startInstall(app);
    expect(second.state).not.toBe(state);
    // Stateless: an unauthenticated endpoint that anyone can hit leaves no key behind (issue 12).
    for (let i = 0; i < 20; i++) await startInstall(app);
    expect((await redis.keys(`${prefix}:*`)).sort()).toEqual(before.sort());
  });
});

describe('GET /oauth/callback: a state we issued must match; none issued, none required', () => {
  it('a state without its cookie, a forged or malformed state: 400, nothing exchanged or stored', async () => {
    const app = buildApp();
    const before = await storedKeys();
    const calls = tokenRequests();

    // A state we issued, presented by a browser without the install cookie (a forged callback link).
    const { state, cookie } = await startInstall(app);
    const r1 = await callback(app, { code: mintCode(), state }).expect(400);
    expect(r1.text).toContain('another browser');
    // A different browser's cookie does not match either.
    const other = await startInstall(app);
    await callback(app, { code: mintCode(), state }, other.cookie).expect(400);

    // Well-formed but signed with another secret, or tampered (expiry pushed out): refused even with a matching cookie.
    const foreign = new OAuthStateSigner('not-the-client-secret', 600_000, clock.now).issue();
    const r2 = await callback(app, { code: mintCode(), state: foreign }, `sk_oauth_state=${foreign}`).expect(
      400,
    );
    expect(r2.text).toContain('not recognised');
    const [nonce, , mac] = state.split('.');
    const tampered = `${nonce}.${(clock.now() + 86_400_000).toString(36)}.${mac}`;
    await callback(app, { code: mintCode(), state: tampered }, `sk_oauth_state=${tampered}`).expect(400);
    await callback(app, { code: mintCode(), state: 'not:a*state' }, 'sk_oauth_state=not:a*state').expect(400);

    expect(tokenRequests()).toBe(calls);
    expect(await storedKeys()).toEqual(before);
    expect(logLines.join('')).toContain('oauth state rejected');
    // The right browser can still finish (nothing was consumed by the refusals).
    expect(cookie).toContain(state);
  });

  it('an expired state: 400, nothing stored', async () => {
    const app = buildApp();
    const { state, cookie } = await startInstall(app);
    clock.advance(10 * 60_000 + 1);
    const before = await storedKeys();
    const res = await callback(app, { code: mintCode(), state }, cookie).expect(400);
    expect(res.text).toContain('expired');
    expect(await storedKeys()).toEqual(before);
  });

  it("HubSpot refusing the code (unknown code): 400 naming HubSpot's reason, nothing stored, code never logged", async () => {
    const app = buildApp();
    const { state, cookie } = await startInstall(app);
    const before = await storedKeys();
    const res = await callback(app, { code: 'not-a-real-code-4711', state }, cookie).expect(400);
    expect(res.text).toContain('BAD_AUTH_CODE');
    expect(await storedKeys()).toEqual(before);
    expect(logLines.join('')).not.toContain('not-a-real-code-4711');
    expect(logLines.join('')).toContain('oauth code exchange failed');
  });

  it('the admin declining in HubSpot (error=access_denied), with or without our state: 400, nothing exchanged', async () => {
    const app = buildApp();
    const calls = tokenRequests();
    const { state, cookie } = await startInstall(app);
    const r = await callback(app, { error: 'access_denied', state }, cookie).expect(400);
    expect(r.text).toContain('did not authorize');
    await callback(app, { error: 'access_denied' }).expect(400);
    await callback(app, {}).expect(400);
    expect(tokenRequests()).toBe(calls);
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
    expect(res.text).toContain(
      `Properties provisioned (${WRITTEN_BACK_PROPERTIES.length}/${WRITTEN_BACK_PROPERTIES.length})`,
    );
    // The portal's pipelines do not fit the starter playbook: none published, no mismatch noise (issues: [] below).
    expect(res.text).toContain('No playbook yet: publish one from the app');

    // Tokens: readable through the store, unreadable in Redis.
    const stored = await store.get(portalId);
    expect(stored).not.toBeNull();
    expect(stored!.expiresAt).toBe(installedAt + 1800 * 1000);
    firstAccessToken = stored!.accessToken;
    const raw = (await redis.get(keys.oauthTokens(portalId)))!;
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
    for (const p of WRITTEN_BACK_PROPERTIES)
      expect(portal.catalogs.deals.get(p.name)?.groupName).toBe(PROPERTY_GROUP.name);

    // Nothing secret in the logs.
    const logs = logLines.join('');
    for (const secret of [code, state, stored!.accessToken, stored!.refreshToken])
      expect(logs).not.toContain(secret);
    expect(logs).toContain('app installed');

    // Replaying the callback URL: HubSpot's codes are single use, so nothing changes.
    const replay = await callback(app, { code, state }, cookie).expect(400);
    expect(replay.text).toContain('BAD_AUTH_CODE');
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
    expect(await redis.get(keys.oauthTokens(portalId))).not.toContain(fresh);

    // Past the first token's life: HubSpot refuses it, the refreshed one works, and no second refresh happens.
    clock.advance(5 * 60_000);
    expect(() => portal.tokens.authenticate(`Bearer ${before.accessToken}`)).toThrow(/expired/);
    const page = await caller.call(portalId, 'deals.list', (c) => c.crm.deals.basicApi.getPage(5));
    expect(page.results).toBeDefined();
    expect(tokenRequests()).toBe(refreshCalls + 1);
  });

  it('an unreadable blob fails that portal with a clear error, without crashing or touching other portals', async () => {
    const other = '99887766';
    await store.set(other, {
      accessToken: 'x-access',
      refreshToken: 'x-refresh',
      expiresAt: clock.now() + 60 * 60_000,
    });
    const good = await redis.get(keys.oauthTokens(other));
    await redis.set(keys.oauthTokens(other), `${good!.slice(0, -6)}AAAAAA`);
    await expect(store.get(other)).rejects.toMatchObject({
      name: 'StoredTokensUnreadableError',
      reason: 'auth_failed',
      portalId: other,
    });

    const provider = new OAuthTokenProvider({
      clientId: portal.clientId,
      clientSecret: portal.clientSecret,
      store,
      basePath: server.url,
      now: clock.now,
    });
    await expect(provider.accessToken(other)).rejects.toBeInstanceOf(StoredTokensUnreadableError);
    await expect(provider.accessToken(portalId)).resolves.toBeTruthy();

    // A copy of this portal's blob under another portal's key fails authentication too.
    await redis.set(keys.oauthTokens(other), (await redis.get(keys.oauthTokens(portalId)))!);
    await expect(store.get(other)).rejects.toMatchObject({ reason: 'auth_failed' });
    await redis.del(keys.oauthTokens(other));
  });

  it('a store with a different key cannot read the tokens', async () => {
    const wrong = new EncryptedRedisTokenStore({ redis, prefix, keys: randomBytes(32).toString('hex') });
    await expect(wrong.get(portalId)).rejects.toMatchObject({ reason: 'unknown_key' });
    const rotated = new EncryptedRedisTokenStore({
      redis,
      prefix,
      keys: `${randomBytes(32).toString('hex')},${KEY}`,
    });
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
    expect(await redis.exists(keys.oauthTokens(portalId))).toBe(1);
  });

  /** A signed uninstall as the settings page sends it (hubspot.fetch appends userId, userEmail, appId, portalId). */
  const signedUninstall = (app: Express, userId: string | null) => {
    const url = `/oauth/uninstall?portalId=${portalId}${userId === null ? '' : `&userId=${userId}`}&userEmail=admin%40clinic.test&appId=${portal.appId}`;
    const ts = clock.now();
    return request(app)
      .post(url)
      .set(
        'X-HubSpot-Signature-v3',
        signV3(portal.clientSecret, 'POST', `${PUBLIC_URL}${url.replace('%40', '@')}`, '', ts),
      )
      .set('X-HubSpot-Request-Timestamp', String(ts));
  };

  it('the installing user is kept as the portal admin; uninstall by anyone else, or without userId, is 403 and keeps the tokens', async () => {
    const installer = String(portal.owners.first()!.userId);
    expect(await registry.isAdmin(portalId, installer)).toBe(true);
    const app = buildApp();
    const other = await signedUninstall(app, String(Number(installer) + 1)).expect(403);
    expect(other.body.error.code).toBe('forbidden');
    await signedUninstall(app, null).expect(403);
    expect(await redis.exists(keys.oauthTokens(portalId))).toBe(1);
    expect((await registry.get(portalId)).installed).toBe(true);
  });

  it('uninstall checks the signature headers before reading a body, and refuses a replayed signed request', async () => {
    const app = buildApp();
    // No signature headers and a body over the route's limit: refused for the headers (401), not read (413).
    const unsigned = await request(app)
      .post(`/oauth/uninstall?portalId=${portalId}`)
      .type('application/json')
      .send('x'.repeat(64 * 1024))
      .expect(401);
    expect(unsigned.body.error.code).toBe('bad_signature');
    // The same signed request twice within the signature window: the second is refused as a replay.
    const installer = String(portal.owners.first()!.userId);
    const url = `/oauth/uninstall?portalId=${portalId}&userId=${Number(installer) + 7}&userEmail=admin%40clinic.test&appId=${portal.appId}`;
    const ts = clock.now();
    const send = () =>
      request(app)
        .post(url)
        .set(
          'X-HubSpot-Signature-v3',
          signV3(portal.clientSecret, 'POST', `${PUBLIC_URL}${url.replace('%40', '@')}`, '', ts),
        )
        .set('X-HubSpot-Request-Timestamp', String(ts));
    await send().expect(403);
    const again = await send().expect(409);
    expect(again.body.error.code).toBe('replayed');
    expect(await redis.exists(keys.oauthTokens(portalId))).toBe(1);
  });

  it('uninstall: refresh token revoked at HubSpot, tokens deleted, portal off the sweep, status says not installed', async () => {
    const app = buildApp();
    const { refreshToken } = (await store.get(portalId))!;
    await redis.set(redisKeys(prefix).sweepCursor(portalId), String(clock.now()));
    await redis.set(redisKeys(prefix).sweepAuditCursor(portalId), '1234');
    const url = `/oauth/uninstall?portalId=${portalId}&userId=${portal.owners.first()!.userId}&userEmail=admin%40clinic.test&appId=${portal.appId}`;
    const ts = clock.now();
    const res = await request(app)
      .post(url)
      // HubSpot signs the URL with %40 decoded (see webhooks/signature.ts).
      .set(
        'X-HubSpot-Signature-v3',
        signV3(portal.clientSecret, 'POST', `${PUBLIC_URL}${url.replace('%40', '@')}`, '', ts),
      )
      .set('X-HubSpot-Request-Timestamp', String(ts))
      .expect(200);
    expect(res.body).toEqual({ portalId: Number(portalId), installed: false });

    expect(await redis.exists(keys.oauthTokens(portalId))).toBe(0);
    expect(await store.get(portalId)).toBeNull();
    expect(await redis.sismember(redisKeys(prefix).portals(), portalId)).toBe(0);
    expect(await redis.exists(redisKeys(prefix).sweepCursor(portalId))).toBe(0);
    expect(await redis.exists(redisKeys(prefix).sweepAuditCursor(portalId))).toBe(0);
    expect(() =>
      portal.tokens.exchange(
        new URLSearchParams({
          grant_type: 'refresh_token',
          client_id: portal.clientId,
          client_secret: portal.clientSecret,
          refresh_token: refreshToken,
        }),
      ),
    ).toThrow(/refresh token/);
    const status = await registry.get(portalId);
    expect(status).toMatchObject({ installed: false, uninstalledAt: new Date(ts).toISOString() });
    expect(await redis.exists(keys.admins(portalId))).toBe(0);

    // A fresh provider (another process) has nothing to use for this portal any more.
    const provider = new OAuthTokenProvider({
      clientId: portal.clientId,
      clientSecret: portal.clientSecret,
      store,
      basePath: server.url,
      now: clock.now,
    });
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

describe("uninstalled on HubSpot's side", () => {
  it('the first call after the uninstall gets a 401, the refresh is refused, and the portal is disconnected', async () => {
    await callback(buildApp(), { code: mintCode() }).expect(200);
    const { refreshToken } = (await store.get(portalId))!;
    const provider = new OAuthTokenProvider({
      clientId: portal.clientId,
      clientSecret: portal.clientSecret,
      store,
      basePath: server.url,
      now: clock.now,
      onRefreshRefused: (p) =>
        uninstalledInHubSpot(
          registry,
          p,
          createLogger('debug', { write: (l: string) => void logLines.push(l) }),
        ),
    });
    const hubspot = sandboxCaller({ portal, server }, { redis, prefix, tokens: provider });
    await hubspot.call(portalId, 'deals.list', (c) => c.crm.deals.basicApi.getPage(1));

    // An admin removes the app in HubSpot: its tokens stop working at once.
    portal.tokens.revokeRefreshToken(refreshToken);
    const mark = portal.requests.length;
    const err = await hubspot
      .call(portalId, 'deals.list', (c) => c.crm.deals.basicApi.getPage(1))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HubSpotRequestError);
    expect(portal.requests.slice(mark).map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
      'GET /crm/v3/objects/deals 401',
      'POST /oauth/v1/token 400',
    ]);

    const status = await registry.get(portalId);
    expect(status).toMatchObject({ installed: false, uninstalledAt: new Date(clock.now()).toISOString() });
    expect(await store.get(portalId)).toBeNull();
    expect(await redis.sismember(redisKeys(prefix).portals(), portalId)).toBe(0);
    expect(logLines.join('')).toContain('app was uninstalled in HubSpot');
    // Later calls fail fast without a token instead of knocking on HubSpot.
    await expect(
      new OAuthTokenProvider({
        clientId: portal.clientId,
        clientSecret: portal.clientSecret,
        store,
        basePath: server.url,
      }).accessToken(portalId),
    ).rejects.toBeInstanceOf(NoTokenError);
  });
});

describe('Sensitive Data portals', () => {
  it('a criteria property held as Sensitive Data is named as unreadable without the optional scope, and fine with it', async () => {
    portal.catalogs.deals.create({
      name: 'waiting_on',
      label: 'Waiting on',
      type: 'string',
      fieldType: 'text',
      groupName: 'dealinformation',
    });
    portal.catalogs.deals.markSensitive('waiting_on');
    const app = buildApp();

    await callback(app, { code: mintCode([...REQUIRED_SCOPES]) }).expect(200);
    let issues = (await registry.get(portalId)).provisioning.issues;
    expect(issues).toContain(
      'deal property "waiting_on" is Sensitive Data the app cannot read: reinstall the app and grant the optional scope crm.objects.deals.sensitive.read.v2',
    );
    // No longer reported as missing: it exists, it is just out of reach.
    expect(issues.some((i) => i.includes('"waiting_on" is read by the playbook but missing'))).toBe(false);

    await callback(app, { code: mintCode([...REQUIRED_SCOPES, ...OPTIONAL_SCOPES]) }).expect(200);
    issues = (await registry.get(portalId)).provisioning.issues;
    expect(issues.filter((i) => i.includes('waiting_on'))).toEqual([]);
    expect((await registry.get(portalId)).missingScopes).toEqual([]);
  });

  it('the sandbox holds back Sensitive Data values from a token without the scope, as the portal would', async () => {
    const deal = portal.ui.createDeal({ dealname: 'Sensitive', waiting_on: 'patient' });
    const read = async (scopes: string[]) => {
      const code = portal.tokens.issueCode(REDIRECT, scopes);
      const t = portal.tokens.exchange(
        new URLSearchParams({
          grant_type: 'authorization_code',
          client_id: portal.clientId,
          client_secret: portal.clientSecret,
          redirect_uri: REDIRECT,
          code,
        }),
      );
      const client = new Client({ accessToken: t.access_token as string, basePath: server.url });
      return (await client.crm.deals.basicApi.getById(deal.id, ['waiting_on', 'dealname'])).properties;
    };
    expect(await read([...REQUIRED_SCOPES])).not.toHaveProperty('waiting_on');
    expect(await read([...REQUIRED_SCOPES, ...OPTIONAL_SCOPES])).toMatchObject({ waiting_on: 'patient' });
  });
});

describe("installs started on HubSpot's side (app listing, project install link)", () => {
  it('a callback with a code and no state or cookie installs the portal: nothing was issued, so nothing is required', async () => {
    await registry.markUninstalled(portalId);
    const app = buildApp();
    const calls = tokenRequests();
    const res = await callback(app, { code: mintCode() }).expect(200);
    expect(res.text).toContain('Stagekeeper is connected');
    expect(tokenRequests()).toBe(calls + 1);
    expect(await store.get(portalId)).not.toBeNull();
    expect((await registry.get(portalId)).installed).toBe(true);
    expect(logLines.join('')).toContain('"initiatedBy":"hubspot"');
    // The account's time zone, for the daily API quota's reset, learned while quota is left.
    expect(await redis.get(redisKeys(prefix).accountTimeZone(portalId))).toBe('America/New_York');
    portal.timeZone = 'Australia/Sydney';

    // A browser that once opened /oauth/install and then used HubSpot's link instead still gets through.
    const abandoned = await startInstall(app);
    await callback(app, { code: mintCode() }, abandoned.cookie).expect(200);
    expect(await redis.get(redisKeys(prefix).accountTimeZone(portalId))).toBe('Australia/Sydney');
    portal.timeZone = 'America/New_York';
    // …but a code HubSpot did not issue for our redirect URI is still refused by HubSpot.
    const foreign = portal.tokens.issueCode('https://evil.example/callback', [...REQUIRED_SCOPES]);
    const r = await callback(app, { code: foreign }).expect(400);
    expect(r.text).toContain('HubSpot refused the install');
  });
});

describe('a first install gets a usable playbook without the CLI', () => {
  it('a portal whose pipelines match the telehealth playbook gets it in force as version 1 at install', async () => {
    const pid = '40404';
    const other = new SandboxPortal({
      now: clock.now,
      portalId: Number(pid),
      clientId: portal.clientId,
      clientSecret: portal.clientSecret,
    });
    const telehealth = loadExamplePlaybook('telehealth');
    seedFromPlaybook(other, telehealth);
    const otherServer = await startSandboxServer({ portal: other });
    try {
      const otherTokens = new ReloadableTokenProvider(
        () =>
          new OAuthTokenProvider({
            clientId: other.clientId,
            clientSecret: other.clientSecret,
            store,
            basePath: otherServer.url,
            now: clock.now,
          }),
      );
      const otherCaller = sandboxCaller(
        { portal: other, server: otherServer },
        { redis, prefix, tokens: otherTokens },
      );
      const app = otherPortalApp(other, otherServer, provisionerFor({ caller: otherCaller, playbooks }));
      expect(await playbooks.current(pid)).toBeNull();
      const res = await callback(app, {
        code: other.tokens.issueCode(REDIRECT, [...REQUIRED_SCOPES]),
      }).expect(200);
      expect(res.text).toContain(`match the ${telehealth.name} playbook, so it is in force as version 1`);
      const current = await playbooks.current(pid);
      expect(current).toMatchObject({ version: 1, playbook: { name: telehealth.name } });
      expect((await registry.get(pid)).provisioning).toMatchObject({
        state: 'complete',
        checkedPlaybook: true,
      });
    } finally {
      await otherServer.close();
      await registry.markUninstalled(pid);
    }
  });
});

describe('provisioning outcomes in the install status', () => {
  it('provisioning failing during install: tokens kept, portal registered, status failed with one sentence', async () => {
    const other = new SandboxPortal({
      now: clock.now,
      portalId: 31337,
      clientId: portal.clientId,
      clientSecret: portal.clientSecret,
    });
    const otherServer = await startSandboxServer({ portal: other });
    try {
      const app = otherPortalApp(other, otherServer, async () => {
        throw Object.assign(new Error('HTTP-Code: 403'), {
          code: 403,
          body: { status: 'error', category: 'MISSING_SCOPES' },
        });
      });
      const { state, cookie } = await startInstall(app);
      const res = await callback(
        app,
        { code: other.tokens.issueCode(REDIRECT, [...REQUIRED_SCOPES]), state },
        cookie,
      ).expect(200);
      expect(res.text).toContain('setup incomplete');
      expect(await store.get('31337')).not.toBeNull();
      expect(await redis.sismember(redisKeys(prefix).portals(), '31337')).toBe(1);
      const status = await registry.get('31337');
      expect(status.installed).toBe(true);
      expect(status.provisioning).toMatchObject({
        state: 'failed',
        error: expect.stringMatching(/^HubSpot refused a provisioning request \(403\)/),
      });
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
        mismatches: [
          `property "${names[0]}" exists with type "string", Stagekeeper writes "enumeration": change or delete it in HubSpot`,
        ],
        missingProperties: [],
        unreadableProperties: [],
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

    await redis.hset(keys.install('777'), 'install', '{not json');
    expect(await registry.get('777')).toMatchObject({
      installed: false,
      installedAt: null,
      provisioning: { state: 'failed' },
    });
    await redis.del(keys.install('777'));
  });
});

describe('createTokenProvider', () => {
  const env = (extra: Record<string, string>) =>
    loadConfig({
      REDIS_URL: 'redis://127.0.0.1:6379',
      KEY_PREFIX: prefix,
      HUBSPOT_CLIENT_SECRET: 'secret',
      LOG_LEVEL: 'silent',
      PUBLIC_URL,
      ...extra,
    });

  it('static token mode: a private-app token for one portal, registered at start', async () => {
    const mode = await createTokenProvider(
      env({ HUBSPOT_ACCESS_TOKEN: 'pat-na1-static', HUBSPOT_PORTAL_ID: '5550001' }),
      redis,
    );
    expect(mode.kind).toBe('static');
    expect(mode.tokens).toBeInstanceOf(StaticTokenProvider);
    expect(await mode.tokens.accessToken('5550001')).toBe('pat-na1-static');
    await expect(mode.tokens.accessToken('5550002')).rejects.toBeInstanceOf(NoTokenError);
    expect(await redis.sismember(redisKeys(prefix).portals(), '5550001')).toBe(1);
    expect(await mode.registry.get('5550001')).toMatchObject({
      installed: true,
      mode: 'static',
      scopes: null,
      missingScopes: [],
    });
  });

  it('OAuth mode: encrypted Redis store behind the refreshing provider; the callback URL from PUBLIC_URL', async () => {
    const mode = await createTokenProvider(
      env({ HUBSPOT_CLIENT_ID: 'cid', TOKEN_ENCRYPTION_KEY: KEY, PUBLIC_URL: PUBLIC_URL }),
      redis,
    );
    expect(mode.kind).toBe('oauth');
    if (mode.kind !== 'oauth') return;
    expect(mode.tokens).toBeInstanceOf(ReloadableTokenProvider);
    expect(mode.redirectUri).toBe(REDIRECT);
    await mode.store.set('5550003', {
      accessToken: 'a',
      refreshToken: 'r',
      expiresAt: Date.now() + 3600_000,
    });
    expect(await mode.tokens.accessToken('5550003')).toBe('a');
    await mode.store.delete('5550003');

    const app = createApp({
      clientSecret: 'secret',
      maxBodyBytes: 1024,
      enqueue: async () => undefined,
      readiness: async () => {},
      log: silentLogger,
      routers: [
        installRoutes(mode, {
          config: env({ HUBSPOT_CLIENT_ID: 'cid', TOKEN_ENCRYPTION_KEY: KEY, PUBLIC_URL }),
          redis,
          log: silentLogger,
        }),
      ],
    }) as unknown as Express;
    const location = new URL(
      (await request(app).get('/oauth/install').expect(302)).headers.location as string,
    );
    expect(location.searchParams.get('client_id')).toBe('cid');
    expect(location.searchParams.get('redirect_uri')).toBe(REDIRECT);
  });

  it('the install routes need PUBLIC_URL (HubSpot must be able to call back); the config refuses to start without it', async () => {
    const config = { ...env({ HUBSPOT_CLIENT_ID: 'cid', TOKEN_ENCRYPTION_KEY: KEY }), publicUrl: undefined };
    const mode = await createTokenProvider(config, redis);
    if (mode.kind !== 'oauth') throw new Error('expected OAuth mode');
    expect(() => installRoutes(mode, { config, redis, log: silentLogger })).toThrow(/PUBLIC_URL: required/);
    expect(() => env({ HUBSPOT_CLIENT_ID: 'cid', TOKEN_ENCRYPTION_KEY: KEY, PUBLIC_URL: '' })).toThrow(
      /PUBLIC_URL: required when SANDBOX is off/,
    );
  });

  it('the burst budget defaults to 110/10 s for an OAuth app and 190 for a private app; RATE_LIMIT_PER_10S overrides', () => {
    expect(env({ HUBSPOT_CLIENT_ID: 'cid', TOKEN_ENCRYPTION_KEY: KEY }).hubspot.rateLimitPer10s).toBe(110);
    expect(env({ HUBSPOT_ACCESS_TOKEN: 'pat', HUBSPOT_PORTAL_ID: '1' }).hubspot.rateLimitPer10s).toBe(190);
    expect(
      env({ HUBSPOT_ACCESS_TOKEN: 'pat', HUBSPOT_PORTAL_ID: '1', RATE_LIMIT_PER_10S: '100' }).hubspot
        .rateLimitPer10s,
    ).toBe(100);
  });

  it('OAuth mode without TOKEN_ENCRYPTION_KEY is a configuration error; a malformed key is refused at load', async () => {
    await expect(createTokenProvider(env({ HUBSPOT_CLIENT_ID: 'cid' }), redis)).rejects.toThrow(ConfigError);
    await expect(createTokenProvider(env({ HUBSPOT_CLIENT_ID: 'cid' }), redis)).rejects.toThrow(
      /TOKEN_ENCRYPTION_KEY: required/,
    );
    expect(() => env({ HUBSPOT_CLIENT_ID: 'cid', TOKEN_ENCRYPTION_KEY: 'too-short-secret' })).toThrow(
      /TOKEN_ENCRYPTION_KEY: key 1: expected 32 random bytes/,
    );
    try {
      env({ HUBSPOT_CLIENT_ID: 'cid', TOKEN_ENCRYPTION_KEY: 'too-short-secret' });
    } catch (err) {
      expect((err as Error).message).not.toContain('too-short-secret');
    }
  });
});
