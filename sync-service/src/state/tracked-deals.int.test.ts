import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../log';
import { blankState, deletePrefix, testPrefix, testRedis } from '../testing/fakes';
import { DealStateStore } from './deal-state-store';
import { redisKeys, type Keys } from './keys';

// DealStateStore.dealIdPages: the portal's deals from its tracked set when that set is complete, by SCAN (which
// completes it) when it is not: ids saved before the set existed, or a set lost with Redis's data.

let redis: Redis;
let prefix: string;
let keys: Keys;

beforeAll(() => {
  redis = testRedis();
});
beforeEach(() => {
  prefix = testPrefix();
  keys = redisKeys(prefix);
});
afterEach(async () => {
  vi.restoreAllMocks();
  await deletePrefix(redis, prefix);
});
afterAll(async () => {
  await redis.quit();
});

async function ids(store: DealStateStore, portalId = '1', count = 2): Promise<string[]> {
  const all: string[] = [];
  for await (const page of store.dealIdPages(portalId, count)) all.push(...page);
  return all.sort();
}

/** A state stored the way releases before the tracked set stored it: the key alone. */
async function saveUntracked(store: DealStateStore, portalId: string, dealId: string): Promise<void> {
  await store.save(portalId, dealId, 0, blankState(dealId, 0));
  await redis.srem(keys.trackedDeals(portalId), dealId);
}

describe('the tracked deal set', () => {
  it('follows the state: a save adds the deal, its tombstone removes it, other portals apart', async () => {
    const store = new DealStateStore(redis, keys, silentLogger);
    await store.save('1', '10', 0, blankState('10', 0));
    await store.save('1', '11', 0, blankState('11', 0));
    await store.save('2', '12', 0, blankState('12', 0));
    expect((await redis.smembers(keys.trackedDeals('1'))).sort()).toEqual(['10', '11']);
    await store.save('1', '10', 1, null);
    expect(await redis.smembers(keys.trackedDeals('1'))).toEqual(['11']);
    expect(await redis.smembers(keys.trackedDeals('2'))).toEqual(['12']);
  });

  it('once complete, lists the deals without scanning the keyspace', async () => {
    const store = new DealStateStore(redis, keys, silentLogger);
    expect(await store.ensureTracked('1')).toBe(true);
    for (const id of ['10', '11', '12', '13', '14']) await store.save('1', id, 0, blankState(id, 0));
    await store.save('1', '12', 1, null);
    const scan = vi.spyOn(redis, 'scan');
    expect(await ids(store)).toEqual(['10', '11', '13', '14']);
    expect(scan).not.toHaveBeenCalled();
  });

  it('scans while incomplete (states saved before the set existed), and that walk completes it', async () => {
    const store = new DealStateStore(redis, keys, silentLogger);
    for (const id of ['10', '11', '12']) await saveUntracked(store, '1', id);
    await store.save('1', '13', 0, blankState('13', 0));
    // A tombstone is listed by the scan, as before (loading tells it apart), but never tracked.
    await store.save('1', '11', 1, null);
    const scan = vi.spyOn(redis, 'scan');
    expect(await ids(store)).toEqual(['10', '11', '12', '13']);
    expect(scan).toHaveBeenCalled();

    scan.mockClear();
    expect(await ids(store)).toEqual(['10', '12', '13']);
    expect(scan).not.toHaveBeenCalled();
  });

  it('after a data loss (the set gone, states saved again), scans until rebuilt: no deal is missed', async () => {
    const store = new DealStateStore(redis, keys, silentLogger);
    expect(await store.ensureTracked('1')).toBe(true);
    await store.save('1', '10', 0, blankState('10', 0));
    // Redis loses everything; the sweep then saves the deals again, one by one.
    await deletePrefix(redis, prefix);
    await store.save('1', '11', 0, blankState('11', 0));
    await saveUntracked(store, '1', '12'); // say, by a process of the older release still running
    expect(await ids(store)).toEqual(['11', '12']);
    expect(await redis.sismember(keys.trackedDeals('1'), '12')).toBe(1);
  });

  it('a walk does not mark the set complete when the set was lost while it walked', async () => {
    const store = new DealStateStore(redis, keys, silentLogger);
    for (const id of ['10', '11', '12', '13']) await saveUntracked(store, '1', id);
    const pages = store.dealIdPages('1', 1);
    const seen: string[] = [];
    for await (const page of pages) {
      // The set (and whatever the walk added so far) goes after the first page, however many ids it held (a
      // SCAN with COUNT 1 can return two keys of one bucket); the walk carries on.
      if (seen.length === 0) await redis.del(keys.trackedDeals('1'));
      seen.push(...page);
    }
    expect(seen.sort()).toEqual(['10', '11', '12', '13']);
    expect(await redis.sismember(keys.trackedDeals('1'), ':complete')).toBe(0);
    // The next read scans again, and completes it.
    expect(await store.ensureTracked('1')).toBe(true);
    expect(await ids(store)).toEqual(['10', '11', '12', '13']);
  });

  it('a walk stopped early leaves the set incomplete and no marker of its own behind', async () => {
    const store = new DealStateStore(redis, keys, silentLogger);
    for (const id of ['10', '11', '12']) await saveUntracked(store, '1', id);
    for await (const page of store.dealIdPages('1', 1)) if (page.length > 0) break;
    const members = await redis.smembers(keys.trackedDeals('1'));
    expect(members.filter((m) => m.startsWith(':'))).toEqual([]);
    expect(await ids(store)).toEqual(['10', '11', '12']);
  });

  it('a tracked-set key of another type (corruption) fails no save, and the next walk replaces it', async () => {
    const store = new DealStateStore(redis, keys, silentLogger);
    await redis.set(keys.trackedDeals('1'), 'garbage');
    expect(await store.save('1', '10', 0, blankState('10', 0))).toBe(true);
    expect(await ids(store)).toEqual(['10']);
    expect(await store.ensureTracked('1')).toBe(true);
    expect(await redis.smembers(keys.trackedDeals('1'))).toContain('10');
  });
});
