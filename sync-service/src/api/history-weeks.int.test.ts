import { Playbook, weekRange, type HistoryRow } from '@stagekeeper/shared';
import { fixtureInput } from '@stagekeeper/shared/engine/fixtures';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../log';
import { deletePrefix, testPrefix, testRedis } from '../testing/fakes';
import { HistoryStore } from '../state/history-store';
import { redisKeys, type Keys } from '../state/keys';
import { foldParts, HistoryWeeks, type ScorecardHelper, type ScorecardPartRequest } from './history-weeks';

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
  add(rows: readonly HistoryRow[]) {
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
      chunksToRead: (...args: Parameters<HistoryStore['chunksToRead']>) => store.chunksToRead(...args),
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

describe('HistoryWeeks.scorecard with a helper thread (issue #18: a million rows on two cores)', () => {
  const playbook = Playbook.parse(fixtureInput());
  const zone = 'America/New_York';
  // The local week of 2026-11-16 spans two UTC weeks (it ends Monday 05:00 UTC).
  const range = weekRange('2026-W47', zone);
  const opts = { zone, now: range.end + 24 * HOUR };
  const outcomes = ['met', 'breached', 'none', 'cancelled'] as const;
  const stages = ['lead', 'qualified', 'gone_stage'];
  const visits = (n: number, salt: number): HistoryRow[] =>
    Array.from({ length: n }, (_, i) => {
      const slaOutcome = outcomes[(i * 7 + salt) % 4]!;
      const exitedAt = range.start - 6 * HOUR + ((i * 7_919 + salt) % (7 * 24 + 12)) * HOUR;
      return {
        ...row(String(1_000 + salt * 1_000 + i), exitedAt),
        stage: stages[i % 3]!,
        ownerRole: i % 5 === 0 ? 'care' : 'intake',
        businessMs: ((i * 13 + salt) % 50) * 60_000,
        slaOutcome,
        breachReason: slaOutcome === 'breached' ? 'capacity' : null,
      };
    });
  /** The helper thread's work, done here: its state copied as postMessage copies it. */
  const inProcess = (store: HistoryStore, asked: ScorecardPartRequest[]): ScorecardHelper => ({
    fold: async (request) => {
      asked.push(structuredClone(request));
      const { exact, fold } = await foldParts(store, structuredClone(request));
      return { exact, state: structuredClone(fold.state()) };
    },
  });

  it('folds the second half of the chunks in the helper and merges it: the scorecard read whole', async () => {
    // Small chunks, so the two UTC weeks span dozens of them.
    const store = new HistoryStore(redis, keys, silentLogger, 50_000, 400);
    await store.append(P, visits(300, 1));
    const asked: ScorecardPartRequest[] = [];
    const helped = await new HistoryWeeks(redis, keys, store, inProcess(store, asked)).scorecard(
      P,
      playbook,
      range,
      opts,
    );
    const whole = await new HistoryWeeks(redis, keys, store).scorecard(P, playbook, range, opts);
    expect(asked).toHaveLength(1);
    // The helper starts mid-way through the first UTC week and reads on to the end of the second.
    expect(asked[0]!.parts.map((p) => p.part.from)).toEqual([expect.any(Number), 0]);
    expect(asked[0]!.parts[0]!.part.from).toBeGreaterThan(0);
    const card = helped.result();
    expect(card.totals.volume).toBeGreaterThan(200);
    expect(card).toEqual(whole.result());
  });

  it('reads a small period alone, without the helper', async () => {
    const store = new HistoryStore(redis, keys, silentLogger);
    await store.append(P, visits(50, 2));
    const asked: ScorecardPartRequest[] = [];
    const helped = await new HistoryWeeks(redis, keys, store, inProcess(store, asked)).scorecard(
      P,
      playbook,
      range,
      opts,
    );
    expect(asked).toHaveLength(0);
    expect(helped.result()).toEqual(
      (await new HistoryWeeks(redis, keys, store).scorecard(P, playbook, range, opts)).result(),
    );
  });

  it('reads the helper’s half itself when the helper fails', async () => {
    const store = new HistoryStore(redis, keys, silentLogger, 50_000, 400);
    await store.append(P, visits(300, 3));
    const failing: ScorecardHelper = { fold: () => Promise.reject(new Error('thread gone')) };
    const card = (
      await new HistoryWeeks(redis, keys, store, failing).scorecard(P, playbook, range, opts)
    ).result();
    expect(card.totals.volume).toBeGreaterThan(200);
    expect(card).toEqual(
      (await new HistoryWeeks(redis, keys, store).scorecard(P, playbook, range, opts)).result(),
    );
  });

  it('counts a visit corrected during the read once, in its corrected form', async () => {
    const store = new HistoryStore(redis, keys, silentLogger, 50_000, 400);
    const rows = visits(300, 4);
    await store.append(P, rows);
    // The first visit of the period, in this thread's half, is corrected while this thread reads: its tombstone
    // lands in our half, its new copy at the end of the helper's.
    const before = (await new HistoryWeeks(redis, keys, store).scorecard(P, playbook, range, opts)).result();
    // Appended first among the period's visits of the first UTC week: in its chunk 0, which this thread reads.
    const first = rows.find(
      (r) =>
        r.exitedAt >= range.start &&
        r.exitedAt < Date.parse('2026-11-23T00:00:00Z') &&
        r.slaOutcome === 'met',
    )!;
    const corrected = {
      ...first,
      businessMs: 99 * 60_000,
      slaOutcome: 'breached' as const,
      breachReason: 'capacity' as const,
    };
    let reads = 0;
    const ours: typeof store = Object.create(store);
    ours.streamWeek = (portalId, week, exits, onRows, o) =>
      store.streamWeek(
        portalId,
        week,
        exits,
        (batch) => {
          if (reads++ === 0) void store.append(P, [corrected]);
          onRows(batch);
        },
        o,
      );
    const asked: ScorecardPartRequest[] = [];
    const card = (
      await new HistoryWeeks(redis, keys, ours, inProcess(store, asked)).scorecard(P, playbook, range, opts)
    ).result();
    const after = (await new HistoryWeeks(redis, keys, store).scorecard(P, playbook, range, opts)).result();
    expect(asked).toHaveLength(1);
    expect(reads).toBeGreaterThan(0);
    expect(card.totals.volume).toBe(after.totals.volume);
    expect(card).toEqual(after);
    // The correction shows on the card: a read that kept the earlier copy, or lost both, would not equal it.
    expect(after).not.toEqual(before);
  });
});
