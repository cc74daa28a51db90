import { rowsOf, type HistoryRow, type RowBatch } from '@stagekeeper/shared';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../log';
import { deletePrefix, testPrefix, testRedis } from '../testing/fakes';
import { HistoryStore } from '../state/history-store';
import { redisKeys, type Keys } from '../state/keys';
import { HistoryWeeks } from './history-weeks';

const P = '1';
/** Thursday of the UTC week starting Monday 2026-11-16. */
const THU = Date.parse('2026-11-19T12:00:00Z');
const HOUR = 3_600_000;

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

const row = (dealId: string, exitedAt: number): HistoryRow => ({
  dealId,
  pipeline: 'p1',
  stage: 's1',
  ownerRole: 'intake',
  ownerId: null,
  enteredAt: exitedAt - HOUR,
  exitedAt,
  businessMs: HOUR,
  toStage: 's2',
  direction: 'forward',
  slaOutcome: 'met',
  breachReason: null,
});

/** A fold that keeps what it is fed, batch by batch. */
const collect = () => ({
  batches: [] as HistoryRow[][],
  rows: [] as HistoryRow[],
  add(batch: RowBatch) {
    const rows = rowsOf(batch);
    this.batches.push([...rows]);
    this.rows.push(...rows);
  },
});
const byId = (a: HistoryRow, b: HistoryRow) => a.dealId.localeCompare(b.dealId);

describe('HistoryWeeks.rowsExiting', () => {
  it('reads no week for an empty range', async () => {
    const store = new HistoryStore(redis, keys, silentLogger);
    await store.append(P, [row('10', THU - HOUR), row('11', THU + HOUR)]);
    let weeksRead = 0;
    const weeks = new HistoryWeeks(redis, keys, {
      scanWeek: (...args: Parameters<HistoryStore['scanWeek']>) => {
        weeksRead++;
        return store.scanWeek(...args);
      },
      streamWeek: (...args: Parameters<HistoryStore['streamWeek']>) => {
        weeksRead++;
        return store.streamWeek(...args);
      },
    });
    expect(await weeks.rowsExiting(P, THU, THU)).toEqual([]);
    expect((await weeks.foldExiting(P, THU, THU, collect)).rows).toEqual([]);
    expect(weeksRead).toBe(0);
  });

  it('returns every row of the range, and only rows of the range, across two UTC weeks', async () => {
    const store = new HistoryStore(redis, keys, silentLogger, 50_000, 300);
    const monday = Date.parse('2026-11-16T00:00:00Z');
    const rows = Array.from({ length: 200 }, (_, i) => row(String(100 + i), monday + i * 2 * HOUR));
    await store.append(P, rows);
    const weeks = new HistoryWeeks(redis, keys, store);
    const from = monday + 20 * HOUR;
    const to = monday + 9 * 24 * HOUR;
    const read = await weeks.rowsExiting(P, from, to);
    expect(read.sort(byId)).toEqual(rows.filter((r) => r.exitedAt >= from && r.exitedAt < to).sort(byId));
  });

  it('reads rows without the visit inputs the scorecard never uses; the what-if read keeps them', async () => {
    const store = new HistoryStore(redis, keys, silentLogger);
    const inputs = {
      entry: { props: { dealstage: 'a' }, held: { consent: true } },
      exit: { props: {}, held: {} },
      pauses: [[THU - 2 * HOUR, THU - HOUR]] as [number, number][],
      pauseKey: '[]',
    };
    const written = [
      { ...row('10', THU), inputs, dims: { referrer: 'A81001' } },
      { ...row('11', THU + HOUR), inputs },
      row('12', THU + 2 * HOUR),
    ];
    await store.append(P, written);
    const weeks = new HistoryWeeks(redis, keys, store);
    const bare = written.map(({ inputs: _inputs, ...rest }: HistoryRow) => rest);
    expect((await weeks.rowsExiting(P, THU - HOUR, THU + 3 * HOUR)).sort(byId)).toEqual(bare);
    expect((await weeks.rows(P, THU - HOUR, THU + 3 * HOUR)).sort(byId)).toEqual(written);
  });
});

describe('HistoryWeeks.foldExiting', () => {
  it("folds rowsExiting's rows in their order, a chunk at a time", async () => {
    const store = new HistoryStore(redis, keys, silentLogger, 50_000, 300);
    const monday = Date.parse('2026-11-16T00:00:00Z');
    const rows = Array.from({ length: 200 }, (_, i) => row(String(100 + i), monday + i * 2 * HOUR));
    await store.append(P, rows);
    const weeks = new HistoryWeeks(redis, keys, store);
    const from = monday + 20 * HOUR;
    const to = monday + 9 * 24 * HOUR;
    const fold = await weeks.foldExiting(P, from, to, collect);
    expect(fold.rows).toEqual(await weeks.rowsExiting(P, from, to));
    // 300-byte chunks: many batches, none holding the whole range.
    expect(fold.batches.length).toBeGreaterThan(10);
    expect(Math.max(...fold.batches.map((b) => b.length))).toBeLessThan(fold.rows.length / 10);
  });

  it('lets other work run between chunks', async () => {
    const store = new HistoryStore(redis, keys, silentLogger, 50_000, 300);
    const monday = Date.parse('2026-11-16T00:00:00Z');
    await store.append(
      P,
      Array.from({ length: 100 }, (_, i) => row(String(100 + i), monday + i * HOUR)),
    );
    const weeks = new HistoryWeeks(redis, keys, store);
    // Work queued behind each batch (a card read's reply, a webhook) runs before the next batch is folded,
    // even when the next chunk's GET already came back with this one's.
    let batches = 0;
    let overtaken = 0;
    let waiting = false;
    await weeks.foldExiting(P, monday, monday + 7 * 24 * HOUR, () => ({
      add: () => {
        batches++;
        if (waiting) overtaken++;
        waiting = true;
        setImmediate(() => (waiting = false));
      },
    }));
    expect(batches).toBeGreaterThan(10);
    expect(overtaken).toBe(0);
  });

  it('starts a fresh fold over deduped rows when a visit was rewritten during the read', async () => {
    const store = new HistoryStore(redis, keys, silentLogger, 50_000, 300);
    const monday = Date.parse('2026-11-16T00:00:00Z');
    const rows = Array.from({ length: 60 }, (_, i) => row(String(100 + i), monday + i * HOUR));
    await store.append(P, rows);
    const weeks = new HistoryWeeks(redis, keys, store);
    const corrected = { ...rows[0]!, businessMs: 2 * HOUR };
    const folds: ReturnType<typeof collect>[] = [];
    const fold = await weeks.foldExiting(P, monday, monday + 7 * 24 * HOUR, () => {
      const f = collect();
      const add = f.add.bind(f);
      // The first batch of the first fold: the visit is corrected (rewritten in a later chunk) meanwhile.
      f.add = (batch) => {
        if (folds.length === 1 && f.batches.length === 0) void store.append(P, [corrected]);
        add(batch);
      };
      folds.push(f);
      return f;
    });
    expect(folds.length).toBe(2);
    expect(fold).toBe(folds[1]);
    expect([...fold.rows].sort(byId)).toEqual([corrected, ...rows.slice(1)].sort(byId));
  });
});
