import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, startupProblem } from './config';
import { HubSpotRequestError, HubSpotUnavailableError } from './hubspot/errors';

const errorLines = (env: Record<string, string>): string[] => {
  try {
    loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) return e.lines;
    throw e;
  }
  return [];
};

describe('loadConfig', () => {
  it('runs in sandbox mode with defaults and no HubSpot credentials', () => {
    const c = loadConfig({ SANDBOX: 'true' });
    expect(c).toMatchObject({
      port: 3000,
      redisUrl: 'redis://127.0.0.1:6379',
      keyPrefix: 'sk',
      webhookMaxBodyBytes: 1024 * 1024,
      sweepIntervalMs: 300_000,
      reconcileDebounceMs: 250,
      logLevel: 'info',
      sandbox: true,
      hubspot: { rateLimitPer10s: 190 },
    });
  });

  it('names each missing credential outside sandbox mode, one line each', () => {
    expect(errorLines({})).toEqual([
      expect.stringMatching(/^HUBSPOT_CLIENT_SECRET: required when SANDBOX is off/),
      expect.stringMatching(/^HUBSPOT_ACCESS_TOKEN: required when SANDBOX is off/),
      expect.stringMatching(/^PUBLIC_URL: required when SANDBOX is off/),
    ]);
    expect(
      errorLines({
        HUBSPOT_CLIENT_SECRET: 's',
        HUBSPOT_ACCESS_TOKEN: 't',
        PUBLIC_URL: 'https://sk.example.com',
      }),
    ).toEqual([expect.stringMatching(/^HUBSPOT_PORTAL_ID: required when HUBSPOT_ACCESS_TOKEN is set/)]);
    expect(
      errorLines({
        HUBSPOT_CLIENT_SECRET: 's',
        HUBSPOT_CLIENT_ID: 'c',
        PUBLIC_URL: 'https://sk.example.com',
      }),
    ).toEqual([]);
    // Issue 13: behind a TLS-terminating proxy every signature would fail without it, and HubSpot retries for a day.
    expect(errorLines({ HUBSPOT_CLIENT_SECRET: 's', HUBSPOT_CLIENT_ID: 'c' })).toEqual([
      expect.stringMatching(/^PUBLIC_URL: required when SANDBOX is off \(the https origin HubSpot calls/),
    ]);
  });

  it('splits HTTP from workers by SERVICE_ROLE, which sandbox mode keeps whole', () => {
    const real = { HUBSPOT_CLIENT_SECRET: 's', HUBSPOT_CLIENT_ID: 'c', PUBLIC_URL: 'https://sk.example.com' };
    expect(loadConfig(real).role).toBe('all');
    expect(loadConfig({ ...real, SERVICE_ROLE: 'web' }).role).toBe('web');
    expect(loadConfig({ ...real, SERVICE_ROLE: 'worker' }).role).toBe('worker');
    expect(errorLines({ ...real, SERVICE_ROLE: 'api' })).toEqual([expect.stringMatching(/^SERVICE_ROLE: /)]);
    expect(errorLines({ SANDBOX: 'true', SERVICE_ROLE: 'web' })).toEqual([
      'SERVICE_ROLE: must be all in sandbox mode (the embedded portal lives in this one process)',
    ]);
  });

  it('reports every bad value without echoing it', () => {
    const lines = errorLines({
      SANDBOX: '1',
      PORT: 'eighty',
      WEBHOOK_MAX_BODY: 'huge-secret-ish',
      KEY_PREFIX: 'a:b',
      LOG_LEVEL: 'loud',
      PUBLIC_URL: 'ftp://x',
    });
    expect(lines.map((l) => l.split(':')[0]).sort()).toEqual([
      'KEY_PREFIX',
      'LOG_LEVEL',
      'PORT',
      'PUBLIC_URL',
      'WEBHOOK_MAX_BODY',
    ]);
    expect(lines.join('\n')).not.toContain('huge-secret-ish');
  });

  it('parses sizes and strips a trailing slash from PUBLIC_URL; empty values fall back to defaults', () => {
    const c = loadConfig({
      SANDBOX: 'yes',
      WEBHOOK_MAX_BODY: '512kb',
      PUBLIC_URL: 'https://sk.example.com/',
      PORT: '',
    });
    expect(c.webhookMaxBodyBytes).toBe(512 * 1024);
    expect(c.publicUrl).toBe('https://sk.example.com');
    expect(c.port).toBe(3000);
  });
});

describe('start-up errors', () => {
  it('a single bad variable is one line naming it; a taken or privileged port names PORT and the fix', () => {
    expect(() => loadConfig({ SANDBOX: 'true', PORT: 'http' })).toThrow(
      /^invalid configuration: PORT: expected a whole number$/,
    );
    const inUse = Object.assign(new Error('listen EADDRINUSE: address already in use 0.0.0.0:3000'), {
      code: 'EADDRINUSE',
    });
    expect(startupProblem(inUse, { port: 3000 })?.message).toBe(
      'PORT 3000 is already in use: stop the process listening there, or set PORT to a free port (PORT=0 picks one)',
    );
    const denied = Object.assign(new Error('listen EACCES: permission denied 0.0.0.0:80'), {
      code: 'EACCES',
    });
    expect(startupProblem(denied, { port: 80 })?.message).toMatch(/^PORT 80 needs privileges/);
    expect(startupProblem(new Error('boom'), { port: 3000 })).toBeUndefined();
  });

  it('HubSpot refusing the static token at provisioning names HUBSPOT_ACCESS_TOKEN', () => {
    const refused = new HubSpotRequestError({
      portalId: '123',
      operation: 'properties.getAll',
      status: 401,
      category: 'INVALID_AUTHENTICATION',
      detail: 'expired',
    });
    expect(startupProblem(refused, { port: 3000 })?.message).toMatch(
      /^HUBSPOT_ACCESS_TOKEN: HubSpot refused it for portal 123 \(401\): .*HUBSPOT_PORTAL_ID$/,
    );
    const scope = new HubSpotRequestError({
      portalId: '123',
      operation: 'properties.create',
      status: 403,
      category: 'MISSING_SCOPES',
      detail: 'missing',
    });
    expect(startupProblem(scope, { port: 3000 })?.message).toMatch(
      /^HUBSPOT_ACCESS_TOKEN: the private app lacks a scope for properties\.create \(403\)/,
    );
    const down = new HubSpotUnavailableError({
      portalId: '123',
      operation: 'properties.getAll',
      attempts: 3,
      lastFailure: 'ECONNREFUSED',
    });
    expect(startupProblem(down, { port: 3000 })?.message).toMatch(
      /^HubSpot did not answer at start-up \(properties\.getAll: ECONNREFUSED\)/,
    );
    expect(
      startupProblem(
        new HubSpotRequestError({ portalId: '123', operation: 'deals.read', status: 400, detail: 'bad' }),
        {
          port: 3000,
        },
      ),
    ).toBeUndefined();
  });

  it('REDIS_WAIT_SECONDS bounds how long a start waits for Redis', () => {
    expect(loadConfig({ SANDBOX: 'true' }).redisWaitMs).toBe(60_000);
    expect(loadConfig({ SANDBOX: 'true', REDIS_WAIT_SECONDS: '2' }).redisWaitMs).toBe(2_000);
  });
});
