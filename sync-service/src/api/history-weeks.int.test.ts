import type { HistoryRow } from '@stagekeeper/shared';
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
    });
    expect(await weeks.rowsExiting(P, THU, THU)).toEqual([]);
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
    const byId = (a: HistoryRow, b: HistoryRow) => a.dealId.localeCompare(b.dealId);
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
    const byId = (a: HistoryRow, b: HistoryRow) => a.dealId.localeCompare(b.dealId);
    const bare = written.map(({ inputs: _inputs, ...rest }: HistoryRow) => rest);
    expect((await weeks.rowsExiting(P, THU - HOUR, THU + 3 * HOUR)).sort(byId)).toEqual(bare);
    expect((await weeks.rows(P, THU - HOUR, THU + 3 * HOUR)).sort(byId)).toEqual(written);
  });
});
