import type { HistoryRow } from '@stagekeeper/shared';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../log';
import { blankState, deletePrefix, MINIMAL_PLAYBOOK_INPUT, testPrefix, testRedis } from '../testing/fakes';
import { typicalDealState } from '../testing/typical-deal-state';
import { encodeDealState } from './deal-state-codec';
import { DealStateStore } from './deal-state-store';
import { HistoryStore, weekStart } from './history-store';
import { redisKeys, type Keys } from './keys';
import { PlaybookInvalidError, PlaybookStore } from './playbook-store';
import { SweepCursorStore } from './sweep-cursor';

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
  await deletePrefix(redis, prefix);
});
afterAll(async () => {
  await redis.quit();
});

describe('DealStateStore', () => {
  it('round-trips state under the portal/deal key and bumps the version', async () => {
    const store = new DealStateStore(redis, keys, silentLogger);
    expect(await store.load('1', '10')).toEqual({ state: null, version: 0 });
    expect(await store.save('1', '10', 0, blankState('10', 1))).toBe(true);
    expect(await store.load('1', '10')).toEqual({ state: blankState('10', 1), version: 1 });
    expect(await redis.exists(`${prefix}:1:deal:10`)).toBe(1);
    expect(await store.load('2', '10')).toEqual({ state: null, version: 0 }); // other portal, other key
  });

  it('lets exactly one of two concurrent writers win; the loser reloads and succeeds', async () => {
    const a = new DealStateStore(redis, keys, silentLogger);
    const b = new DealStateStore(redis, keys, silentLogger);
    await a.save('1', '10', 0, blankState('10', 0));
    const [ra, rb] = await Promise.all([a.load('1', '10'), b.load('1', '10')]);
    const results = await Promise.all([
      a.save('1', '10', ra.version, blankState('10', 100)),
      b.save('1', '10', rb.version, blankState('10', 200)),
    ]);
    expect(results.filter(Boolean)).toHaveLength(1);
    const winner = results[0] ? 100 : 200;
    expect((await a.load('1', '10')).state?.breachCount).toBe(winner);

    // The loser retries from what the winner stored.
    const fresh = await b.load('1', '10');
    expect(await b.save('1', '10', fresh.version, blankState('10', fresh.state!.breachCount + 1))).toBe(true);
    expect((await a.load('1', '10')).state?.breachCount).toBe(winner + 1);
  });

  it('many racing increments lose no update when losers retry', async () => {
    const store = new DealStateStore(redis, keys, silentLogger);
    const increment = async () => {
      for (;;) {
        const { state, version } = await store.load('1', '11');
        if (await store.save('1', '11', version, blankState('11', (state?.breachCount ?? 0) + 1))) return;
      }
    };
    await Promise.all(Array.from({ length: 20 }, increment));
    expect((await store.load('1', '11')).state?.breachCount).toBe(20);
  });

  it('loads a state stored as plain JSON (the first shape); the next save stores it compact', async () => {
    const store = new DealStateStore(redis, keys, silentLogger);
    const state = typicalDealState('40');
    await redis.hset(keys.dealState('1', '40'), 'v', '3', 's', JSON.stringify(state));
    const oldBytes = Number(await redis.memory('USAGE', keys.dealState('1', '40')));
    expect(await store.load('1', '40')).toEqual({ state, version: 3 });
    expect(await store.save('1', '40', 3, state)).toBe(true);
    expect(await store.load('1', '40')).toEqual({ state, version: 4 });
    const stored = await redis.getBuffer(keys.dealState('1', '40'));
    expect(stored!.subarray(0, 2).toString()).toBe('4:');
    expect(stored![2]).not.toBe('{'.charCodeAt(0));
    const bytes = Number(await redis.memory('USAGE', keys.dealState('1', '40')));
    console.log(`typical deal state: ${oldBytes} bytes as JSON, ${bytes} compact`);
    expect(bytes).toBeLessThan(oldBytes / 2);
  });

  it('loads states of the deflated hash shape {v, s}; their next save stores one smaller string', async () => {
    const store = new DealStateStore(redis, keys, silentLogger);
    const [a, b] = [typicalDealState('41'), typicalDealState('42')];
    await redis.hset(keys.dealState('1', '41'), 'v', '7', 's', encodeDealState(JSON.stringify(a)));
    await store.save('1', '42', 0, b);
    await redis.hset(keys.dealState('1', '43'), 'v', '2', 's', '');
    const hashBytes = Number(await redis.memory('USAGE', keys.dealState('1', '41'), 'SAMPLES', 0));
    // Both shapes in one read: the older hash, the string, and an older tombstone.
    expect(await store.loadMany('1', ['41', '42', '43', '44'])).toEqual([
      { state: a, version: 7 },
      { state: b, version: 1 },
      { state: null, version: 2 },
      { state: null, version: 0 },
    ]);
    expect(await store.save('1', '41', 6, a)).toBe(false); // the hash's version still guards it
    expect(await store.save('1', '43', 1, b)).toBe(false);
    expect(await store.save('1', '41', 7, a)).toBe(true);
    expect(await redis.type(keys.dealState('1', '41'))).toBe('string');
    expect(await store.load('1', '41')).toEqual({ state: a, version: 8 });
    const bytes = Number(await redis.memory('USAGE', keys.dealState('1', '41'), 'SAMPLES', 0));
    console.log(`typical deal state: ${hashBytes} bytes as a hash {v, s}, ${bytes} as a string`);
    expect(bytes).toBeLessThan(hashBytes - 100);
  });

  it('treats corrupt values as missing without throwing, and the next save repairs them', async () => {
    const store = new DealStateStore(redis, keys, silentLogger);
    await redis.hset(keys.dealState('1', '20'), 'v', '4', 's', '{not json');
    await redis.hset(
      keys.dealState('1', '21'),
      'v',
      '2',
      's',
      JSON.stringify({ dealId: '21', breachCount: 'many' }),
    );
    await redis.set(keys.dealState('1', '22'), 'a plain string');
    await redis.hset(keys.dealState('1', '23'), 'v', '1', 's', JSON.stringify(blankState('999')));
    const loaded = await store.loadMany('1', ['20', '21', '22', '23']);
    expect(loaded).toEqual([
      { state: null, version: 4 },
      { state: null, version: 2 },
      { state: null, version: 0 },
      { state: null, version: 1 },
    ]);
    for (const [i, id] of ['20', '21', '22', '23'].entries()) {
      expect(await store.save('1', id, loaded[i]!.version, blankState(id, 1))).toBe(true);
      expect((await store.load('1', id)).state).toEqual(blankState(id, 1));
    }
  });

  it('a cleared state leaves a versioned tombstone so a stale writer cannot resurrect the old state', async () => {
    const store = new DealStateStore(redis, keys, silentLogger);
    await store.save('1', '30', 0, blankState('30', 1));
    expect(await store.save('1', '30', 1, null)).toBe(true);
    expect(await store.load('1', '30')).toEqual({ state: null, version: 2 });
    expect(await store.save('1', '30', 1, blankState('30', 9))).toBe(false);
    expect(await redis.pttl(keys.dealState('1', '30'))).toBeGreaterThan(0);
    // A state saved on the tombstone's version is kept for good again.
    expect(await store.save('1', '30', 2, blankState('30', 3))).toBe(true);
    expect(await redis.pttl(keys.dealState('1', '30'))).toBe(-1);
  });

  it('reads one deal without a pipeline, several with one (a pipeline costs CPU on the shared connection)', async () => {
    const store = new DealStateStore(redis, keys, silentLogger);
    await store.save('1', '10', 0, blankState('10', 1));
    const pipelines = vi.spyOn(redis, 'pipeline');
    try {
      expect(await store.load('1', '10')).toEqual({ state: blankState('10', 1), version: 1 });
      expect(pipelines).not.toHaveBeenCalled();
      expect(await store.loadMany('1', ['10', '11'])).toEqual([
        { state: blankState('10', 1), version: 1 },
        { state: null, version: 0 },
      ]);
      expect(pipelines).toHaveBeenCalledTimes(1);
    } finally {
      pipelines.mockRestore();
    }
  });

  it('refuses ids that would alias other keys', async () => {
    const store = new DealStateStore(redis, keys, silentLogger);
    await expect(store.load('1', '10:deal:11')).rejects.toThrow(/dealId/);
    await expect(store.save('1*', '10', 0, null)).rejects.toThrow(/portalId/);
  });
});

describe('HistoryStore', () => {
  const row = (dealId: string, exitedAt: number, stage = 'new'): HistoryRow => ({
    dealId,
    pipeline: 'default',
    stage,
    ownerRole: 'intake',
    ownerId: '1',
    enteredAt: exitedAt - 3_600_000,
    exitedAt,
    businessMs: 3_600_000,
    toStage: 'next',
    direction: 'forward',
    slaOutcome: 'met',
    breachReason: null,
  });

  it('buckets rows by the UTC week of the exit (Monday start)', () => {
    expect(weekStart(Date.parse('2026-03-02T00:00:00Z'))).toBe('2026-03-02'); // a Monday
    expect(weekStart(Date.parse('2026-03-08T23:59:59Z'))).toBe('2026-03-02'); // the Sunday after
    expect(weekStart(Date.parse('2026-03-09T00:00:00Z'))).toBe('2026-03-09');
  });

  it('appends idempotently and reads a week back in exit order, skipping corrupt rows', async () => {
    const store = new HistoryStore(redis, keys, silentLogger);
    const mon = Date.parse('2026-03-02T10:00:00Z');
    await store.append('1', [
      row('10', mon + 5_000),
      row('11', mon + 1_000),
      row('12', mon + 8 * 86_400_000),
    ]);
    await store.append('1', [row('10', mon + 5_000)]); // a replayed decision
    await redis.hset(keys.history('1', '2026-03-02'), 'junk', '{"dealId":1}');
    const week = await store.readWeek('1', '2026-03-04');
    expect(week.map((r) => r.dealId)).toEqual(['11', '10']);
    expect((await store.readWeek('1', mon + 8 * 86_400_000)).map((r) => r.dealId)).toEqual(['12']);
    expect(await store.readWeek('2', '2026-03-02')).toEqual([]);
  });
});

describe('PlaybookStore', () => {
  it('validates, versions and returns the current playbook per portal', async () => {
    const store = new PlaybookStore(redis, keys, silentLogger);
    expect(await store.current('1')).toBeNull();
    const v1 = await store.save('1', MINIMAL_PLAYBOOK_INPUT);
    const v2 = await store.save('1', { ...MINIMAL_PLAYBOOK_INPUT, name: 'second' });
    expect([v1.version, v2.version]).toEqual([1, 2]);
    // A fresh instance (another process) reads what was stored, with the store's version number.
    const other = new PlaybookStore(redis, keys, silentLogger);
    expect(await other.current('1')).toMatchObject({ version: 2, playbook: { name: 'second', version: 2 } });
    expect((await other.get('1', 1))?.playbook.name).toBe('test');
    expect(await other.versions('1')).toEqual([1, 2]);
    expect(await other.portals()).toEqual(['1']);
    expect(await other.current('2')).toBeNull();
  });

  it('saveIfChanged mints a version only when the content changed', async () => {
    const store = new PlaybookStore(redis, keys, silentLogger);
    expect((await store.saveIfChanged('1', MINIMAL_PLAYBOOK_INPUT)).changed).toBe(true);
    expect(await store.saveIfChanged('1', MINIMAL_PLAYBOOK_INPUT)).toMatchObject({
      changed: false,
      version: 1,
    });
    expect(await store.saveIfChanged('1', { ...MINIMAL_PLAYBOOK_INPUT, name: 'edited' })).toMatchObject({
      changed: true,
      version: 2,
    });
  });

  it('rejects an invalid playbook with path-precise issues and stores nothing', async () => {
    const store = new PlaybookStore(redis, keys, silentLogger);
    const bad = {
      ...MINIMAL_PLAYBOOK_INPUT,
      pipelines: [{ id: 'default', label: 'D', stages: [{ id: 'new', label: 'New', ownerRole: 'ghost' }] }],
    };
    const err = await store.save('1', bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PlaybookInvalidError);
    expect((err as PlaybookInvalidError).issues).toContainEqual({
      path: ['pipelines', 0, 'stages', 0, 'ownerRole'],
      message: expect.stringContaining('ghost'),
    });
    expect(await store.current('1')).toBeNull();
  });

  it('reports a corrupt stored version as missing instead of crashing', async () => {
    const store = new PlaybookStore(redis, keys, silentLogger);
    await redis.set(keys.playbookCurrent('1'), '3');
    await redis.hset(keys.playbookVersions('1'), '3', '{"schemaVersion":1');
    expect(await store.current('1')).toBeNull();
  });
});

describe('SweepCursorStore', () => {
  it('starts empty, only moves forward, and ignores an unreadable value', async () => {
    const cursors = new SweepCursorStore(redis, keys);
    expect(await cursors.get('1')).toBeNull();
    expect(await cursors.advance('1', 1_000)).toBe(1_000);
    expect(await cursors.advance('1', 500)).toBe(1_000);
    expect(await cursors.get('1')).toBe(1_000);
    await redis.set(keys.sweepCursor('2'), 'garbage');
    expect(await cursors.get('2')).toBeNull();
  });
});
