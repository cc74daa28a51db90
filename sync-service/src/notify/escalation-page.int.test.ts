import { randomBytes } from 'node:crypto';
import { timerId } from '@stagekeeper/shared';
import { fixtureInput, HOUR, MON_10, snap } from '@stagekeeper/shared/engine/fixtures';
import type { Redis } from 'ioredis';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { startPagingFake, type PagingFake } from '../../../test/fakes/paging/server';
import { apiApp, hubspotQuery, PortalGateway, signedHeaders } from '../api/test-harness';
import { silentLogger } from '../log';
import { DealStateStore } from '../state/deal-state-store';
import { HistoryStore } from '../state/history-store';
import { redisKeys } from '../state/keys';
import { PlaybookStore } from '../state/playbook-store';
import { deletePrefix, testPrefix, testRedis, waitFor } from '../testing/fakes';
import { sharedEngine, type DecideDeps } from '../decide';
import { reconcileDeals } from '../queue/reconcile';
import { fireTimer } from '../queue/timers';
import { createPaging, type Paging } from '.';

// The whole path: the escalation timer fires in the worker, the real engine decides, the HubSpot task is created,
// the page goes out through the portal's default channel, the card shows it, and leaving the stage resolves it
// (Slack gets a short follow-up).

const PORTAL = '3300441';
const DEAL = '4711';
const KEY = randomBytes(32).toString('hex');
const PATIENT = { num_contacted_notes: '0', dealname: 'Jane Q. Patient', diagnosis: 'Type 2 diabetes' };

let redis: Redis;
let workerRedis: Redis;
let fake: PagingFake;
let prefix: string;
let paging: Paging;
let now = MON_10;

beforeAll(async () => {
  redis = testRedis();
  workerRedis = redis.duplicate({ maxRetriesPerRequest: null });
  fake = await startPagingFake();
});
beforeEach(() => {
  prefix = testPrefix();
  now = MON_10;
  fake.received.length = 0;
});
afterEach(async () => {
  await paging?.close();
  await deletePrefix(redis, prefix);
});
afterAll(async () => {
  await fake.close();
  await workerRedis.quit();
  await redis.quit();
});

it('an escalation to the lead pages through the default channel, shows on the card, and resolves on exit', async () => {
  const keys = redisKeys(prefix);
  const states = new DealStateStore(redis, keys, silentLogger);
  const playbooks = new PlaybookStore(redis, keys, silentLogger);
  await playbooks.save(PORTAL, fixtureInput());
  const gateway = new PortalGateway();
  gateway.put(PORTAL, snap({ dealId: DEAL, properties: PATIENT }));
  paging = createPaging({
    redis,
    workerRedis,
    prefix,
    encryptionKey: KEY,
    log: silentLogger,
    clock: () => now,
    states,
    allowHttpLoopback: true,
    backoffBaseMs: 10,
  });
  await paging.channels.put(PORTAL, 'ops-slack', {
    kind: 'slack',
    webhookUrl: `${fake.url}/slack/services/T000/B000/XXXX`,
  });
  const deps: DecideDeps = {
    gateway,
    engine: sharedEngine,
    playbooks,
    states,
    history: new HistoryStore(redis, keys, silentLogger),
    timers: { apply: async () => [] },
    log: silentLogger,
    clock: () => now,
    pages: paging,
  };

  await reconcileDeals(deps, PORTAL, [DEAL]);
  const entryId = (await states.load(PORTAL, DEAL)).state!.current!.entryId;
  now = MON_10 + 2 * HOUR; // level 1 (100 %, a task for the lead) is due
  await fireTimer(deps, PORTAL, DEAL, {
    timerId: timerId(entryId, 'escalation', 0),
    kind: 'escalation',
    level: 0,
    entryId,
  });

  // The HubSpot task for the lead is created regardless of the page.
  const tasks = gateway.applied
    .flatMap((a) => a.commands)
    .filter((c) => c.type === 'createTask' && c.kind === 'escalation');
  expect(tasks).toEqual([expect.objectContaining({ ownerId: '100', priority: 'HIGH' })]);
  const key = `${entryId}:level:0`;
  await waitFor(
    async () => (await paging.trail.get(PORTAL, DEAL, key))?.status === 'sent',
    20_000,
    'the page sent',
  );
  expect(fake.requestsTo('/slack/')).toHaveLength(1);
  for (const value of ['Jane Q. Patient', 'Type 2 diabetes'])
    expect(fake.received[0]!.raw).not.toContain(value);

  // A second firing of the same timer (redelivered job) pages no more.
  await fireTimer(deps, PORTAL, DEAL, {
    timerId: timerId(entryId, 'escalation', 0),
    kind: 'escalation',
    level: 0,
    entryId,
  });

  const app = apiApp({ redis, prefix, gateway, now: () => now, encryptionKey: KEY }).app;
  const path = `/api/card/deal/${DEAL}?${hubspotQuery(PORTAL)}`;
  const card = await request(app)
    .get(path)
    .set(signedHeaders('GET', path, '', now));
  expect(card.status).toBe(200);
  expect(card.body.pages).toEqual([
    {
      level: 1,
      stage: 'Lead',
      channel: 'ops-slack',
      status: 'sent',
      at: new Date(now).toISOString(),
      detail: null,
    },
  ]);

  // The deal moves on: the page of the visit it left is resolved in the trail.
  now = MON_10 + 3 * HOUR;
  gateway.put(
    PORTAL,
    snap({
      dealId: DEAL,
      stage: 'intake',
      stageEnteredAt: now,
      properties: { ...PATIENT, num_contacted_notes: '1', insurance_id: 'X' },
    }),
  );
  await reconcileDeals(deps, PORTAL, [DEAL]);
  await waitFor(
    async () => (await paging.trail.get(PORTAL, DEAL, key))?.status === 'resolved',
    20_000,
    'the page resolved',
  );
  expect(await paging.trail.get(PORTAL, DEAL, key)).toMatchObject({
    before: 'sent',
    resolvedWhy: 'stage_left',
  });
  // Slack has no incident to close: one short follow-up, no patient data either.
  const slack = fake.requestsTo('/slack/');
  expect(slack.map((r) => (r.json as { text: string }).text)).toEqual([
    expect.stringContaining('deal 4711'),
    'Resolved · Lead: deal 4711 left the stage (L1)',
  ]);
  for (const value of ['Jane Q. Patient', 'Type 2 diabetes']) expect(slack[1]!.raw).not.toContain(value);
});
