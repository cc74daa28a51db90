import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../log';
import { DealStateStore } from '../state/deal-state-store';
import { redisKeys, type Keys } from '../state/keys';
import { SweepCursorStore } from '../state/sweep-cursor';
import { blankState, deletePrefix, MemoryGateway, testPrefix, testRedis } from '../testing/fakes';
import { ReconcileQueue } from './reconcile';
import { auditTrackedDeals, type TrackedDealAuditDeps } from './tracked-deal-audit';

const P = '5';
let redis: Redis;
let prefix: string;
let keys: Keys;
let gateway: MemoryGateway;
let states: DealStateStore;
let cursors: SweepCursorStore;
let queue: ReconcileQueue;

const audit = (perSweep: number, over: Partial<TrackedDealAuditDeps> = {}) =>
  auditTrackedDeals({ states, cursors, gateway, reconcile: queue, perSweep, ...over }, P);
const queued = async () => (await queue.list()).map((r) => r.dealId).sort((a, b) => Number(a) - Number(b));

/** Deals 1..n, tracked with an open state and live in HubSpot; `closed` ones with a closed state. */
async function track(n: number, closed: (i: number) => boolean = () => false): Promise<string[]> {
  const ids = Array.from({ length: n }, (_, i) => String(i + 1));
  for (const [i, id] of ids.entries()) {
    gateway.setDeal(id, 'new');
    await states.save(P, id, 0, { ...blankState(id), closedReason: closed(i + 1) ? 'closed_stage' : null });
  }
  expect(await states.ensureTracked(P)).toBe(true);
  return ids;
}

beforeAll(() => {
  redis = testRedis();
});
beforeEach(() => {
  prefix = testPrefix();
  keys = redisKeys(prefix);
  gateway = new MemoryGateway();
  states = new DealStateStore(redis, keys, silentLogger);
  cursors = new SweepCursorStore(redis, keys);
  queue = new ReconcileQueue(redis, keys, 60_000);
});
afterEach(async () => {
  await queue.close();
  await deletePrefix(redis, prefix);
});
afterAll(async () => {
  await redis.quit();
});

describe('auditTrackedDeals', () => {
  it('requests a reconcile of the open tracked deals HubSpot no longer has, and of no other', async () => {
    await track(6, (i) => i === 4);
    gateway.deals.get('2')!.exists = false; // deleted, webhooks lost
    gateway.deals.get('4')!.exists = false; // deleted after it closed: nothing of it is open
    gateway.merge('1', '6');
    expect(await audit(1_000)).toEqual({ checked: 5, gone: 2, roundDone: true });
    expect(await queued()).toEqual(['2', '6']);
    // Closed deals are not asked about.
    expect(gateway.goneDealsCalls.flat().sort()).toEqual(['1', '2', '3', '5', '6']);
  });

  it('goes round the tracked set a part per sweep, resuming where the last one stopped', async () => {
    const ids = await track(1_200);
    const seen: string[] = [];
    const rounds: boolean[] = [];
    for (let sweep = 0; sweep < 6 && !rounds.includes(true); sweep++) {
      gateway.goneDealsCalls.length = 0;
      const r = await audit(300);
      rounds.push(r.roundDone);
      seen.push(...gateway.goneDealsCalls.flat());
      // SSCAN's COUNT is a hint: a sweep takes about a page more than asked at most.
      expect(r.checked).toBeGreaterThanOrEqual(r.roundDone ? 0 : 300);
      expect(r.checked).toBeLessThan(300 + 400);
    }
    // Every deal once in the round (SSCAN may give one twice), in more than one sweep.
    expect(new Set(seen)).toEqual(new Set(ids));
    expect(rounds.length).toBeGreaterThan(1);
    expect(rounds.at(-1)).toBe(true);
    // The next sweep starts a new round.
    expect(await cursors.auditCursor(P)).toBe('0');
  });

  it('reads a bounded part of a set of mostly closed deals per sweep', async () => {
    await track(3_000, (i) => i % 100 !== 0); // 30 open
    const r = await audit(100);
    // At most 5 ids read per open deal wanted: 500 (and a page), never the whole 3,000.
    expect(r.roundDone).toBe(false);
    expect(r.checked).toBeLessThan(30);
    expect(await cursors.auditCursor(P)).not.toBe('0');
  });

  it('waits while the tracked set is being completed, and is off at 0', async () => {
    await states.save(P, '1', 0, blankState('1'));
    gateway.deals.set('1', { stage: 'new', modifiedAt: 0, exists: false });
    // Saved, but the set has no complete marker yet (a start, or a data loss): no audit, no cursor moved.
    expect(await audit(1_000)).toEqual({ checked: 0, gone: 0, roundDone: false });
    expect(await redis.exists(keys.sweepAuditCursor(P))).toBe(0);
    expect(await states.ensureTracked(P)).toBe(true);
    expect(await audit(0)).toEqual({ checked: 0, gone: 0, roundDone: false });
    expect(gateway.goneDealsCalls).toEqual([]);
    expect(await audit(1_000)).toMatchObject({ gone: 1 });
  });

  it('waits on a tracked set it cannot read (a key of another type)', async () => {
    await redis.set(keys.trackedDeals(P), 'corrupt');
    expect(await audit(1_000)).toEqual({ checked: 0, gone: 0, roundDone: false });
    expect(gateway.goneDealsCalls).toEqual([]);
  });

  it('starts a new round from a cursor it cannot read', async () => {
    await track(3);
    await redis.set(keys.sweepAuditCursor(P), 'garbage');
    expect(await audit(1_000)).toEqual({ checked: 3, gone: 0, roundDone: true });
  });

  it('leaves the cursor where it was when HubSpot cannot answer, so the next sweep checks the same deals', async () => {
    await track(1_200);
    const first = await audit(300);
    const cursor = await cursors.auditCursor(P);
    expect(first.roundDone).toBe(false);
    const failing = {
      goneDeals: async () => {
        throw new Error('HubSpot 503');
      },
    };
    await expect(audit(300, { gateway: failing })).rejects.toThrow('HubSpot 503');
    expect(await cursors.auditCursor(P)).toBe(cursor);
  });
});
