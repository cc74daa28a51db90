import RetryModule from '@hubspot/api-client/lib/src/services/decorators/RetryDecorator';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { manualClock } from './clock';
import { refusal, startSandbox } from './harness';

const clock = manualClock();
let sb: Awaited<ReturnType<typeof startSandbox>>;
beforeAll(async () => {
  sb = await startSandbox({ now: clock.now });
});
afterAll(() => sb.close());
afterEach(() => {
  vi.restoreAllMocks();
  sb.portal.setRateLimit({ max: 190, windowMs: 10_000 });
  sb.portal.setFaults({ http5xxRate: 0, lostResponseRate: 0 });
});

// The module is CommonJS; depending on interop the class sits on `.default` once or twice.
const RetryDecorator = ((RetryModule as unknown as { default?: unknown }).default ?? RetryModule) as {
  prototype: { _waitAfterRequestFailure: (status: number, retry: number, timeout: number) => Promise<void> };
};

describe('rate limits', () => {
  it('answers a burst over the limit with the exact TEN_SECONDLY_ROLLING body, which the client retries', async () => {
    sb.portal.setRateLimit({ max: 3, windowMs: 10_000 });
    clock.advance(10_000);
    const deal = sb.portal.ui.createDeal({ dealname: 'Burst' });
    // The client waits 10 s × attempt before retrying a burst 429; let that wait pass on the portal clock instead.
    const waits: [number, number][] = [];
    vi.spyOn(RetryDecorator.prototype, '_waitAfterRequestFailure').mockImplementation(
      async (status, _n, timeout) => {
        waits.push([status, timeout]);
        clock.advance(timeout);
      },
    );
    const hs = sb.client({ numberOfApiCallRetries: 3 });
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await hs.crm.deals.basicApi.getById(deal.id));
    expect(results).toHaveLength(5);
    expect(waits).toEqual([[429, 10_000]]);
    const burst = sb.portal.requests.find((r) => r.status === 429);
    expect(burst).toBeDefined();

    // The body itself, as a raw caller sees it.
    sb.portal.setRateLimit({ max: 1 });
    clock.advance(10_000);
    const get = () =>
      fetch(`${sb.server.url}/crm/v3/objects/deals/${deal.id}`, {
        headers: { authorization: `Bearer ${sb.portal.privateAppToken}` },
      });
    const ok = await get();
    expect(ok.headers.get('x-hubspot-ratelimit-remaining')).toBe('0');
    expect(ok.headers.get('x-hubspot-ratelimit-interval-milliseconds')).toBe('10000');
    const limited = await get();
    expect(limited.status).toBe(429);
    const body = (await limited.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      status: 'error',
      message: 'You have reached your ten_secondly_rolling limit.',
      errorType: 'RATE_LIMIT',
      policyName: 'TEN_SECONDLY_ROLLING',
      groupName: `publicapi:private_app-api-calls-ten-secondly:${sb.portal.appId}:${sb.portal.portalId}`,
    });
    expect(body.correlationId).toMatch(/^[0-9a-f-]{36}$/);
    expect(body.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('serves 5xx faults that the client retries, and lost responses after a committed write', async () => {
    const waits: number[] = [];
    vi.spyOn(RetryDecorator.prototype, '_waitAfterRequestFailure').mockImplementation(
      async (status) => void waits.push(status),
    );
    sb.portal.setFaults({ http5xxRate: 0.5, seed: 7 });
    const hs = sb.client({ numberOfApiCallRetries: 6 });
    for (let i = 0; i < 6; i++)
      await hs.crm.deals.basicApi.create({ properties: { dealname: `Flaky ${i}` }, associations: [] });
    expect(waits.length).toBeGreaterThan(0);
    expect(waits.every((s) => [500, 502, 503].includes(s))).toBe(true);

    sb.portal.setFaults({ http5xxRate: 0, lostResponseRate: 1 });
    const before = sb.portal.objects.all('deals').length;
    const lost = await refusal(
      sb.client().crm.deals.basicApi.create({ properties: { dealname: 'Lost' }, associations: [] }),
    );
    expect(lost.code).toBe(504);
    expect(sb.portal.objects.all('deals')).toHaveLength(before + 1);
  });
});

describe('authentication', () => {
  it('refuses a missing or unknown bearer with 401 INVALID_AUTHENTICATION', async () => {
    const unknown = await refusal(
      sb.client({ accessToken: 'pat-na1-not-a-token' }).crm.deals.basicApi.getPage(),
    );
    expect(unknown).toMatchObject({ code: 401, body: { category: 'INVALID_AUTHENTICATION' } });
    const none = await fetch(`${sb.server.url}/crm/v3/objects/deals`);
    expect(none.status).toBe(401);
  });

  it('exchanges a code, expires the token after expires_in, and refreshes it', async () => {
    const redirectUri = 'https://stagekeeper.test/oauth/callback';
    const code = sb.portal.tokens.issueCode(redirectUri);
    const oauth = sb.client().oauth.tokensApi;
    const bad = await refusal(
      oauth.create('authorization_code', code, redirectUri, sb.portal.clientId, 'wrong-secret'),
    );
    expect(bad.code).toBe(400);
    const tokens = await oauth.create(
      'authorization_code',
      code,
      redirectUri,
      sb.portal.clientId,
      sb.portal.clientSecret,
    );
    expect(tokens).toMatchObject({ tokenType: 'bearer', expiresIn: 1800 });

    const hs = sb.client({ accessToken: tokens.accessToken });
    await hs.crm.deals.basicApi.getPage();
    clock.advance(1800 * 1000);
    const expired = await refusal(hs.crm.deals.basicApi.getPage());
    expect(expired).toMatchObject({ code: 401, body: { category: 'EXPIRED_AUTHENTICATION' } });

    const refreshed = await oauth.create(
      'refresh_token',
      undefined,
      undefined,
      sb.portal.clientId,
      sb.portal.clientSecret,
      tokens.refreshToken,
    );
    expect(refreshed.accessToken).not.toBe(tokens.accessToken);
    await sb.client({ accessToken: refreshed.accessToken }).crm.deals.basicApi.getPage();
    const reused = await refusal(
      oauth.create('authorization_code', code, redirectUri, sb.portal.clientId, sb.portal.clientSecret),
    );
    expect(reused.code).toBe(400);
  });
});
