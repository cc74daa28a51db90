import {
  loadExamplePlaybook,
  reconcile,
  WRITTEN_BACK_PROPERTIES,
  type PlaybookInput,
} from '@stagekeeper/shared';
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

const ADMIN = { userId: '42', userEmail: 'ops@example.com' };
const call = (
  method: 'GET' | 'PUT',
  route: string,
  portal: string,
  body?: unknown,
  user: { userId: string; userEmail: string } | null = ADMIN,
) => {
  const query = hubspotQuery(portal, user ?? { userId: '', userEmail: '' });
  // hubspot.fetch from a context without a user: no userId parameter at all.
  const path = `${route}?${user ? query : query.replace(/userId=&userEmail=&/, '')}`;
  const text = body === undefined ? '' : JSON.stringify(body);
  const req = method === 'GET' ? request(built.app).get(path) : request(built.app).put(path);
  return req.set(signedHeaders(method, path, text, NOW)).send(text || undefined);
};
const getPlaybook = (portal: string) => call('GET', '/api/settings/playbook', portal);
const putPlaybook = (
  portal: string,
  body: unknown,
  user: { userId: string; userEmail: string } | null = ADMIN,
) => call('PUT', '/api/settings/playbook', portal, body, user);

describe('GET /api/settings/playbook', () => {
  it('all null when the portal has no playbook, with the starter playbook the page can publish (no CLI needed)', async () => {
    const res = await getPlaybook(A);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      version: null,
      updatedAt: null,
      updatedBy: null,
      playbook: null,
      unsubscribedProperties: [],
    });
    expect(res.body.starter).toMatchObject({
      schemaVersion: 1,
      name: loadExamplePlaybook('telehealth').name,
    });
  });

  it('names the properties the playbook reads that the app has no webhook subscription for, with the fix', async () => {
    const input = fixtureInput() as { signals?: Record<string, string> };
    await playbooks.save(B, {
      ...input,
      signals: {
        ...input.signals,
        contactAttempts: 'num_contacted_notes',
        lastInboundReply: 'portal_reply_seen_at',
      },
    });
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
    expect(res.body).toMatchObject({
      version: 1,
      updatedAt: null,
      updatedBy: null,
      playbook: { name: 'Fixture telehealth', version: 1 },
    });
    expect(res.body.playbook.pipelines[0].stages[1].sla.warningAt).toBe(75);
  });
});

describe('PUT /api/settings/playbook', () => {
  // Both portals installed, user 42 their admin (the list kept at install).
  beforeEach(async () => {
    const registry = new InstallRegistry(redis, prefix);
    for (const portal of [A, B])
      await registry.markInstalled(portal, { mode: 'oauth', scopes: null, admins: [ADMIN.userId] });
  });

  it('403 forbidden for a user who is not an admin of the portal, and for a request without userId; nothing saved', async () => {
    await playbooks.save(A, fixtureInput());
    const rep = await putPlaybook(
      A,
      { baseVersion: 1, playbook: fixtureInput() },
      { userId: '77', userEmail: 'rep@clinic.example' },
    );
    expect(rep.status).toBe(403);
    expect(rep.body.error.code).toBe('forbidden');
    const anonymous = await putPlaybook(A, { baseVersion: 1, playbook: fixtureInput() }, null);
    expect(anonymous.status).toBe(403);
    expect(anonymous.body.error.code).toBe('forbidden');
    // An admin of portal A is no admin of a portal that lists someone else.
    await new InstallRegistry(redis, prefix).markInstalled(B, { mode: 'oauth', scopes: null, admins: ['5'] });
    await redis.srem(`${prefix}:${B}:admins`, ADMIN.userId);
    expect((await putPlaybook(B, { baseVersion: null, playbook: fixtureInput() })).status).toBe(403);
    expect(await playbooks.versions(A)).toEqual([1]);
    expect(await playbooks.versions(B)).toEqual([]);
  });

  it('403 not_installed for a portal that never installed (or uninstalled), nothing saved', async () => {
    const C = '3333333';
    const res = await putPlaybook(C, { baseVersion: null, playbook: fixtureInput() });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('not_installed');
    expect(await playbooks.current(C)).toBeNull();
    await new InstallRegistry(redis, prefix).markUninstalled(A);
    expect((await putPlaybook(A, { baseVersion: null, playbook: fixtureInput() })).body.error.code).toBe(
      'not_installed',
    );
    expect(await playbooks.current(A)).toBeNull();
  });

  it('saves a new version whatever playbook.version says, with who and when', async () => {
    await playbooks.save(A, fixtureInput());
    const edited = (await getPlaybook(A)).body.playbook;
    edited.pipelines[0].stages[0].sla.target = '3h';
    edited.version = 99;
    const res = await putPlaybook(A, { baseVersion: 1, playbook: edited });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      version: 2,
      updatedAt: '2026-11-20T10:00:00.000Z',
      updatedBy: 'ops@example.com',
      playbook: { version: 2 },
    });
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
        issues: [
          {
            path: ['pipelines', 0, 'stages', 1, 'sla', 'target'],
            message: 'expected a duration like "4h" or "15m", got "4 hrs"',
          },
        ],
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
    const results = await Promise.all(
      [1, 2, 3].map(() => putPlaybook(A, { baseVersion: 1, playbook: fixtureInput() })),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, 409, 409]);
    expect((await playbooks.current(A))!.version).toBe(2);
  });

  it('the same signed save sent again (a replay) is refused 409 replayed; an unsigned one before its body is read', async () => {
    await playbooks.save(A, fixtureInput());
    const path = `/api/settings/playbook?${hubspotQuery(A, ADMIN)}`;
    const text = JSON.stringify({ baseVersion: 1, playbook: fixtureInput() });
    const headers = signedHeaders('PUT', path, text, NOW);
    expect((await request(built.app).put(path).set(headers).send(text)).status).toBe(200);
    const replayed = await request(built.app).put(path).set(headers).send(text);
    expect(replayed.status).toBe(409);
    expect(replayed.body.error.code).toBe('replayed');
    expect(await playbooks.versions(A)).toEqual([1, 2]);
    const unsigned = await request(built.app).put(path).set('Content-Type', 'application/json').send(text);
    expect(unsigned.status).toBe(401);
    expect(unsigned.body.error.code).toBe('bad_signature');
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
    for (const [portal, dealId] of [
      [A, '11'],
      [A, '12'],
      [B, '21'],
    ] as const)
      await states.save(
        portal,
        dealId,
        0,
        reconcile({ playbook, state: null, snapshot: snap({ dealId }), now: MON_10 }).state,
      );
    await states.save(A, '13', 0, null);

    const edited = fixtureInput();
    edited.name = 'Portal A edit';
    expect((await putPlaybook(A, { baseVersion: 1, playbook: edited })).status).toBe(200);
    expect((await getPlaybook(B)).body).toMatchObject({
      version: 1,
      playbook: { name: 'Fixture telehealth' },
    });
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
      provisioning: {
        state: 'not_started',
        propertiesExpected: WRITTEN_BACK_PROPERTIES.length,
        propertiesPresent: 0,
        lastRunAt: null,
        error: null,
      },
      lastWebhookAt: null,
      lastSweepAt: null,
    });
    const registry = new InstallRegistry(redis, prefix, () => Date.parse('2026-11-01T09:00:00Z'));
    await registry.markInstalled(A, {
      mode: 'oauth',
      scopes: ['oauth', 'crm.objects.deals.read', 'crm.objects.deals.write'],
    });
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
      missingScopes: [
        'crm.objects.contacts.read',
        'crm.objects.contacts.write',
        'crm.objects.owners.read',
        'crm.schemas.deals.write',
      ],
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
    expect((await call('GET', '/api/settings/status', B)).body).toMatchObject({
      installed: false,
      lastWebhookAt: null,
    });
    await registry.markUninstalled(A);
    expect((await call('GET', '/api/settings/status', A)).body).toMatchObject({
      installed: false,
      installedAt: null,
      missingScopes: [],
    });
  });
});
