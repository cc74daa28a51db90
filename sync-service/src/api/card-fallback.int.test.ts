import { type DealSnapshot } from '@stagekeeper/shared';
import { fixtureInput, HOUR, MON_10, snap } from '@stagekeeper/shared/engine/fixtures';
import { reconcile } from '@stagekeeper/shared';
import request from 'supertest';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HubSpotUnavailableError } from '../hubspot/errors';
import { callNoSlotWait } from '../hubspot/call';
import { LaneBusy } from '../hubspot/limiter';
import { silentLogger } from '../log';
import { DealStateStore } from '../state/deal-state-store';
import { redisKeys } from '../state/keys';
import { PlaybookStore } from '../state/playbook-store';
import { deletePrefix, testPrefix, testRedis } from '../testing/fakes';
import { apiApp, hubspotQuery, PortalGateway, signedHeaders } from './test-harness';

// Issue 18 point 2: when HubSpot is slow (a bulk move holds the rate budget) the card answers from
// Stagekeeper's saved state within its budget, says how fresh that is, and is never a 503 for it.
const A = '1111111';
const DEAL = '501';
let now = MON_10;
let redis: Redis;
let prefix: string;
let gateway: PortalGateway;
let app: ReturnType<typeof apiApp>['app'];
/** How the live read behaves: answer, hang (HubSpot slow), or fail as the caller does when the budget is spent. */
let mode: 'live' | 'hang' | 'unavailable' | 'busy' = 'live';
/** Per live read: whether it ran without waiting for a rate slot. */
let noWait: (boolean | undefined)[] = [];

beforeAll(() => {
  redis = testRedis();
});
beforeEach(() => {
  prefix = testPrefix();
  now = MON_10;
  mode = 'live';
  noWait = [];
  gateway = new PortalGateway();
  const read = gateway.snapshots.bind(gateway);
  gateway.snapshots = async (...args) => {
    noWait.push(callNoSlotWait.getStore());
    if (mode === 'hang') return new Promise<Map<string, DealSnapshot>>(() => {});
    if (mode === 'unavailable')
      throw new HubSpotUnavailableError({
        portalId: A,
        operation: 'deals.batch.read',
        attempts: 1,
        lastFailure: '429',
      });
    if (mode === 'busy') throw new LaneBusy(4_000);
    return read(...args);
  };
  app = apiApp({ redis, prefix, gateway, now: () => now }).app;
});
afterEach(async () => {
  await deletePrefix(redis, prefix);
});
afterAll(async () => {
  await redis.quit();
});

const get = (dealId: string) => {
  const path = `/api/card/deal/${dealId}?${hubspotQuery(A)}`;
  return request(app)
    .get(path)
    .set(signedHeaders('GET', path, '', now));
};

async function seed(live: DealSnapshot): Promise<void> {
  const keys = redisKeys(prefix);
  const playbooks = new PlaybookStore(redis, keys, silentLogger);
  const states = new DealStateStore(redis, keys, silentLogger);
  const stored = (await playbooks.current(A)) ?? (await playbooks.save(A, fixtureInput()));
  const state = reconcile({ playbook: stored.playbook, state: null, snapshot: live, now: MON_10 }).state!;
  const { version } = await states.load(A, live.dealId);
  expect(await states.save(A, live.dealId, version, state)).toBe(true);
  gateway.put(A, live);
}

describe('the card when HubSpot is slow', () => {
  it('a live read says it is live, as of now, and never waits for a rate slot', async () => {
    await seed(snap({ dealId: DEAL, properties: { num_contacted_notes: '2' } }));
    now = MON_10 + HOUR;
    const res = await get(DEAL);
    expect(res.status).toBe(200);
    expect(res.body.freshness).toEqual({ source: 'live', asOf: new Date(now).toISOString() });
    expect(res.body.exitChecklist).toEqual([{ label: 'First contact logged', met: true }]);
    // Issue 18: a slot free at once or none (LaneBusy, answered from what Stagekeeper has), never a queue.
    expect(noWait).toEqual([true]);
    // And says where its time went (Server-Timing), for the card bench and anyone looking at a slow card.
    for (const phase of ['playbook', 'state', 'history', 'live', 'slot', 'hubspot', 'view', 'total'])
      expect(res.headers['server-timing']).toMatch(new RegExp(`\\b${phase};dur=\\d+(\\.\\d)?\\b`));
  });

  it('HubSpot not answering within the budget: the saved state, no 503, freshness "saved"', async () => {
    await seed(snap({ dealId: DEAL }));
    now = MON_10 + HOUR;
    mode = 'hang';
    const res = await get(DEAL);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      managed: true,
      stage: { id: 'lead' },
      sla: { status: 'running', elapsedMs: HOUR, remainingMs: HOUR },
      freshness: { source: 'saved', asOf: null },
    });
  });

  it('no rate slot for the card (LaneBusy) or HubSpot unavailable: the saved state at once', async () => {
    await seed(snap({ dealId: DEAL }));
    for (const m of ['busy', 'unavailable'] as const) {
      mode = m;
      const res = await get(DEAL);
      expect(res.status).toBe(200);
      expect(res.body.freshness).toEqual({ source: 'saved', asOf: null });
    }
  });

  it('a deal read live a moment ago is shown as that read, as of its time', async () => {
    await seed(snap({ dealId: DEAL, properties: { num_contacted_notes: '2' } }));
    now = MON_10 + HOUR;
    const readAt = now;
    expect((await get(DEAL)).body.freshness.source).toBe('live');
    now = MON_10 + HOUR + 60_000;
    mode = 'busy';
    const res = await get(DEAL);
    expect(res.status).toBe(200);
    expect(res.body.freshness).toEqual({ source: 'recent', asOf: new Date(readAt).toISOString() });
    // The checklist is the one HubSpot showed then, not "nothing met".
    expect(res.body.exitChecklist).toEqual([{ label: 'First contact logged', met: true }]);
  });
});
