import { loadExamplePlaybook, reconcile, WRITTEN_BACK_PROPERTIES, type PlaybookInput } from '@stagekeeper/shared';
import { fixtureInput, MON_10, snap } from '@stagekeeper/shared/engine/fixtures';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { InstallRegistry } from '../install/registry';
import { silentLogger } from '../log';
import { DealStateStore } from '../state/deal-state-store';
import { redisKeys } from '../state/keys';
import { PlaybookStore } from '../state/playbook-store';
import { deletePrefix, testPrefix, testRedis, waitFor } from '../testing/fakes';
import { apiApp, hubspotQuery, PortalGateway, signedHeaders } from './test-harness';

const A = '1111111';
const B = '2222222';
const NOW = Date.parse('2026-11-20T10:00:00.000Z');

let redis: Redis;
let prefix: string;
let playbooks: PlaybookStore;
let enqueued: { portalId: string; dealIds: string[] }[];
let built: ReturnType<typeof apiApp>;

beforeAll(() => {
  redis = testRedis();
});
beforeEach(() => {
  prefix = testPrefix();
  enqueued = [];
  playbooks = new PlaybookStore(redis, redisKeys(prefix), silentLogger);
  built = apiApp({
    redis,
    prefix,
    gateway: new PortalGateway(),
    now: () => NOW,
    enqueue: async (portalId, dealIds) => void enqueued.push({ portalId, dealIds }),
  });
});
afterEach(async () => {
  await deletePrefix(redis, prefix);
});
afterAll(async () => {
  await redis.quit();
});

const call = (method: 'GET' | 'PUT', route: string, portal: string, body?: unknown) => {
  const path = `${route}?${hubspotQuery(portal, { userId: '42', userEmail: 'ops@example.com' })}`;
  const text = body === undefined ? '' : JSON.stringify(body);
  const req = method === 'GET' ? request(built.app).get(path) : request(built.app).put(path);
  return req.set(signedHeaders(method, path, text, NOW)).send(text || undefined);
};
const getPlaybook = (portal: string) => call('GET', '/api/settings/playbook', portal);
const putPlaybook = (portal: string, body: unknown) => call('PUT', '/api/settings/playbook', portal, body);

describe('GET /api/settings/playbook', () => {
  it('all null when the portal has no playbook, with the starter playbook the page can publish (no CLI needed)', async () => {
    const res = await getPlaybook(A);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ version: null, updatedAt: null, updatedBy: null, playbook: null, unsubscribedProperties: [] });
    expect(res.body.starter).toMatchObject({ schemaVersion: 1, name: loadExamplePlaybook('telehealth').name });
  });

  it('names the properties the playbook reads that the app has no webhook subscription for, with the fix', async () => {
    const input = fixtureInput() as { signals?: Record<string, string> };
    await playbooks.save(B, { ...input, signals: { ...input.signals, contactAttempts: 'num_contacted_notes', lastInboundReply: 'portal_reply_seen_at' } });
    const res = await getPlaybook(B);
    expect(res.body.starter).toBeNull();
    expect(res.body.unsubscribedProperties).toContainEqual({
      property: 'portal_reply_seen_at',
      at: ['signals.lastInboundReply'],
      fix: expect.stringContaining('npm run gen:webhooks'),
    });
  });

  it('the parsed playbook with defaults; author unknown for a CLI-seeded version', async () => {
    await playbooks.save(A, fixtureInput());
    const res = await getPlaybook(A);
    expect(res.body).toMatchObject({ version: 1, updatedAt: null, updatedBy: null, playbook: { name: 'Fixture telehealth', version: 1 } });
    expect(res.body.playbook.pipelines[0].stages[1].sla.warningAt).toBe(75);
  });
});

describe('PUT /api/settings/playbook', () => {
  it('saves a new version whatever playbook.version says, with who and when', async () => {
    await playbooks.save(A, fixtureInput());
    const edited = (await getPlaybook(A)).body.playbook;
    edited.pipelines[0].stages[0].sla.target = '3h';
    edited.version = 99;
    const res = await putPlaybook(A, { baseVersion: 1, playbook: edited });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ version: 2, updatedAt: '2026-11-20T10:00:00.000Z', updatedBy: 'ops@example.com', playbook: { version: 2 } });
    expect(res.body.playbook.pipelines[0].stages[0].sla.target).toBe('3h');
    expect((await getPlaybook(A)).body).toEqual(res.body);
    expect((await playbooks.current(A))!.version).toBe(2);
  });

  it('400 invalid_playbook with issue paths relative to the playbook', async () => {
    await playbooks.save(A, fixtureInput());
    const edited: PlaybookInput = fixtureInput();
    edited.pipelines[0]!.stages[1]!.sla!.target = '4 hrs';
    const res = await putPlaybook(A, { baseVersion: 1, playbook: edited });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      error: {
        code: 'invalid_playbook',
        message: 'The playbook has 1 problem.',
        issues: [{ path: ['pipelines', 0, 'stages', 1, 'sla', 'target'], message: 'expected a duration like "4h" or "15m", got "4 hrs"' }],
      },
    });
    expect((await playbooks.current(A))!.version).toBe(1);
  });

  it('409 version_conflict for a stale baseVersion, nothing saved', async () => {
    await playbooks.save(A, fixtureInput());
    await playbooks.save(A, fixtureInput());
    const res = await putPlaybook(A, { baseVersion: 1, playbook: fixtureInput() });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('version_conflict');
    expect(await playbooks.versions(A)).toEqual([1, 2]);
  });

  it('two saves from the same base: exactly one wins', async () => {
    await playbooks.save(A, fixtureInput());
    const results = await Promise.all([1, 2, 3].map(() => putPlaybook(A, { baseVersion: 1, playbook: fixtureInput() })));
    expect(results.map((r) => r.status).sort()).toEqual([200, 409, 409]);
    expect((await playbooks.current(A))!.version).toBe(2);
  });

  it('400 invalid_request for a body without baseVersion', async () => {
    const res = await putPlaybook(A, { playbook: fixtureInput() });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
  });

  it('touches only the signed portal, and asks the worker to recompute that portal’s open visits', async () => {
    await playbooks.save(A, fixtureInput());
    await playbooks.save(B, fixtureInput());
    const states = new DealStateStore(redis, redisKeys(prefix), silentLogger);
    const playbook = (await playbooks.current(A))!.playbook;
    for (const [portal, dealId] of [[A, '11'], [A, '12'], [B, '21']] as const)
      await states.save(portal, dealId, 0, reconcile({ playbook, state: null, snapshot: snap({ dealId }), now: MON_10 }).state);
    await states.save(A, '13', 0, null);

    const edited = fixtureInput();
    edited.name = 'Portal A edit';
    expect((await putPlaybook(A, { baseVersion: 1, playbook: edited })).status).toBe(200);
    expect((await getPlaybook(B)).body).toMatchObject({ version: 1, playbook: { name: 'Fixture telehealth' } });
    await waitFor(() => enqueued.flatMap((e) => e.dealIds).length >= 2, 5_000, 'recompute enqueue');
    expect(enqueued.every((e) => e.portalId === A)).toBe(true);
    expect(enqueued.flatMap((e) => e.dealIds).sort()).toEqual(['11', '12']);
  });
});

describe('GET /api/settings/status', () => {
  it('not installed by default; then what the install registry and activity recorded, per portal', async () => {
    const fresh = await call('GET', '/api/settings/status', A);
    expect(fresh.body).toEqual({
      portalId: 1111111,
      installed: false,
      installedAt: null,
      missingScopes: [],
      provisioning: { state: 'not_started', propertiesExpected: WRITTEN_BACK_PROPERTIES.length, propertiesPresent: 0, lastRunAt: null, error: null },
      lastWebhookAt: null,
      lastSweepAt: null,
    });
    const registry = new InstallRegistry(redis, prefix, () => Date.parse('2026-11-01T09:00:00Z'));
    await registry.markInstalled(A, { mode: 'oauth', scopes: ['oauth', 'crm.objects.deals.read', 'crm.objects.deals.write'] });
    await registry.markProvisioning(A);
    await registry.markProvisionFailed(A, 'HubSpot refused to create the properties.');
    const { activity } = built;
    await activity.recordWebhook(A, Date.parse('2026-11-20T09:59:00Z'));
    await activity.recordWebhook(A, Date.parse('2026-11-20T09:00:00Z'));
    await activity.recordSweep(A, Date.parse('2026-11-20T09:55:00Z'));
    const res = await call('GET', '/api/settings/status', A);
    expect(res.body).toEqual({
      portalId: 1111111,
      installed: true,
      installedAt: '2026-11-01T09:00:00.000Z',
      missingScopes: ['crm.objects.contacts.read', 'crm.objects.contacts.write', 'crm.objects.owners.read', 'crm.schemas.deals.write'],
      provisioning: {
        state: 'failed',
        propertiesExpected: WRITTEN_BACK_PROPERTIES.length,
        propertiesPresent: 0,
        lastRunAt: '2026-11-01T09:00:00.000Z',
        error: 'HubSpot refused to create the properties.',
      },
      lastWebhookAt: '2026-11-20T09:59:00.000Z',
      lastSweepAt: '2026-11-20T09:55:00.000Z',
    });
    expect((await call('GET', '/api/settings/status', B)).body).toMatchObject({ installed: false, lastWebhookAt: null });
    await registry.markUninstalled(A);
    expect((await call('GET', '/api/settings/status', A)).body).toMatchObject({ installed: false, installedAt: null, missingScopes: [] });
  });
});
