import {
  BREACH_REASONS,
  Command,
  computeScorecard,
  weekRange,
  visitKey,
  type HistoryRow,
} from '@stagekeeper/shared';
import { scorecardPlaybook } from '@stagekeeper/shared/scorecard/fixtures';
import fc from 'fast-check';
import type { Redis, RedisKey } from 'ioredis';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../log';
import { Redis as IORedis } from 'ioredis';
import { OwnRedis } from '../../../test/chaos/redis-server';
import { deletePrefix, testPrefix, testRedis } from '../testing/fakes';
import { monitorCommands } from '../testing/redis-monitor';
import { timeScorecardFromRedis, weekOfVisits, writeVisits } from '../testing/history-visits';
import { HistoryWeeks } from '../api/history-weeks';
import { hashValues } from './hash-scan';
import { encodeChunkColumns } from './history-columns';
import { encodeChunkRecord } from './history-row-codec';
import { HistoryStore, weekStart } from './history-store';
import { redisKeys, type Keys } from './keys';

const P = '1';
/** Thursday of the UTC week starting Monday 2026-11-16. */
const THU = Date.parse('2026-11-19T12:00:00Z');
const WEEK = 7 * 24 * 3600_000;
const NOW = THU + 7 * 24 * 3600_000;

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

const row = (dealId: string, exitedAt: number, over: Partial<HistoryRow> = {}): HistoryRow => ({
  dealId,
  pipeline: 'p1',
  stage: 's1',
  ownerRole: 'intake',
  ownerId: '7',
  enteredAt: exitedAt - 3_600_000,
  exitedAt,
  businessMs: 3_600_000,
  toStage: 's2',
  direction: 'forward',
  slaOutcome: 'met',
  breachReason: null,
  breachedAt: null,
  breachReasonSource: null,
  ...over,
});

/** `count` visits of other deals in the week of `at`, written as the worker writes them. */
async function crowd(store: HistoryStore, count: number, at: number): Promise<void> {
  await writeVisits(store, P, weekOfVisits(count, Date.parse(`${weekStart(at)}T00:00:00Z`), 900_000));
}

/** Rows as the service wrote them before the deal index and the compact encoding: JSON, week hash only. */
async function writeOldLayout(rows: HistoryRow[]): Promise<void> {
  const pipeline = redis.pipeline();
  for (const r of rows) pipeline.hset(keys.history(P, weekStart(r.exitedAt)), visitKey(r), JSON.stringify(r));
  await pipeline.exec();
}

const byVisit = (rows: HistoryRow[]) => [...rows].sort((a, b) => visitKey(a).localeCompare(visitKey(b)));

/**
 * `redis`, but every pipeline built on it first awaits `beforeExec` with the names of the commands it holds (a
 * throw fails the pipeline), for tests that race a write with a read or break one of its round trips.
 */
function beforeEachPipeline(
  redis: Redis,
  beforeExec: (names: ReadonlySet<string>) => Promise<void> | void,
): Redis {
  return new Proxy(redis, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (prop !== 'pipeline') return typeof value === 'function' ? value.bind(target) : value;
      return () => {
        // Every command goes through the pipeline's sendCommand (ioredis's Pipeline; not in its chainable type).
        const pipeline = target.pipeline() as ReturnType<Redis['pipeline']> & {
          sendCommand(command: { name: string }): unknown;
        };
        const names = new Set<string>();
        const send = pipeline.sendCommand.bind(pipeline);
        pipeline.sendCommand = (command: { name: string }) => (names.add(command.name), send(command));
        const exec = pipeline.exec.bind(pipeline);
        pipeline.exec = async (...args: Parameters<typeof exec>) => {
          await beforeExec(names);
          return exec(...args);
        };
        return pipeline;
      };
    },
  });
}

describe('HistoryStore by deal', () => {
  it("finds one deal's visits among many other deals' visits, across weeks", async () => {
    const store = new HistoryStore(redis, keys, silentLogger);
    await crowd(store, 3000, THU);
    const mine = [
      row('42', THU - 3 * WEEK, { stage: 's1' }),
      row('42', THU, { stage: 's2', slaOutcome: 'breached', breachReason: 'capacity' }),
      row('42', THU + 1000, { stage: 's3' }),
    ];
    await store.append(P, mine);
    await store.append(P, [row('43', THU + 5)]);
    expect(byVisit(await store.dealRows(P, '42', NOW))).toEqual(byVisit(mine));
    expect(await store.dealRows(P, '44', NOW)).toEqual([]);
    // Rows past retention are not read even while the deal's index still names them.
    expect(byVisit(await store.dealRows(P, '42', THU + 60 * WEEK))).toEqual([]);
  });

  it('a replayed or corrected visit overwrites its row: one row in the week and for the deal', async () => {
    const store = new HistoryStore(redis, keys, silentLogger);
    const first = row('42', THU, { slaOutcome: 'breached', breachReason: 'capacity' });
    await store.append(P, [first, row('43', THU)]);
    await store.append(P, [first]); // the worker replays the decision
    const corrected = { ...first, breachReason: 'handoff' as const, breachReasonSource: 'manual' as const };
    await store.append(P, [corrected]);
    expect(await store.dealRows(P, '42', NOW)).toEqual([corrected]);
    expect((await store.readWeek(P, THU)).filter((r) => r.dealId === '42')).toEqual([corrected]);
    // Stored once: the week's rows are the two visits (the earlier copies are tombstones).
    expect(await store.readWeek(P, THU)).toHaveLength(2);
    expect(await redis.hlen(keys.historyByDeal(P, '42'))).toBe(1);
  });

  it('keeps both key kinds for the history retention', async () => {
    const store = new HistoryStore(redis, keys, silentLogger);
    await store.append(P, [row('42', THU)]);
    for (const key of [keys.historyChunk(P, weekStart(THU), 0), keys.historyByDeal(P, '42')])
      expect(await redis.pttl(key)).toBeGreaterThan(399 * 24 * 3600_000);
  });

  it('reads rows written in the old layout (JSON, no deal index), indexing them on the first read', async () => {
    const old = [row('42', THU - WEEK, { stage: 's1' }), row('42', THU, { stage: 's2' }), row('43', THU)];
    await writeOldLayout(old);
    const store = new HistoryStore(redis, keys, silentLogger);
    await store.append(P, [row('42', THU + 2000, { stage: 's3' })]); // written after the upgrade
    expect(await redis.exists(keys.historyIndexed(P))).toBe(0);
    const expected = byVisit([old[0]!, old[1]!, row('42', THU + 2000, { stage: 's3' })]);
    expect(byVisit(await store.dealRows(P, '42', NOW))).toEqual(expected);
    // Small enough to index before answering: the portal is marked and the old rows are in the deal's index.
    expect(await redis.exists(keys.historyIndexed(P))).toBe(1);
    expect(await redis.hlen(keys.historyByDeal(P, '42'))).toBe(3);
    expect(byVisit(await store.dealRows(P, '42', NOW))).toEqual(expected);
    expect(await store.dealRows(P, '43', NOW)).toEqual([old[2]]);
    // The scorecard's week read takes both encodings.
    expect(byVisit(await store.readWeek(P, THU))).toEqual(
      byVisit([old[1]!, old[2]!, row('42', THU + 2000, { stage: 's3' })]),
    );
  });

  it('a visit of the old layout written again is stored once: the week and the deal read its new row', async () => {
    const old = [row('42', THU, { slaOutcome: 'breached', breachReason: 'capacity' }), row('43', THU)];
    await writeOldLayout(old);
    const store = new HistoryStore(redis, keys, silentLogger);
    const corrected = { ...old[0]!, breachReason: 'handoff' as const, breachReasonSource: 'manual' as const };
    await store.append(P, [corrected]); // before the portal is indexed
    expect(byVisit(await store.readWeek(P, THU))).toEqual(byVisit([corrected, old[1]!]));
    expect(await store.dealRows(P, '42', NOW)).toEqual([corrected]);
    await store.append(P, [old[1]!]); // after: the index names the week hash
    expect(byVisit(await store.readWeek(P, THU))).toEqual(byVisit([corrected, old[1]!]));
    expect(await redis.hlen(keys.history(P, weekStart(THU)))).toBe(0);
    expect(await store.dealRows(P, '43', NOW)).toEqual([old[1]]);
  });

  it('a visit whose exit moved to another week is read in its new week only', async () => {
    const store = new HistoryStore(redis, keys, silentLogger);
    const first = row('42', THU);
    await store.append(P, [first, row('43', THU)]);
    const moved = { ...first, exitedAt: THU + WEEK };
    await store.append(P, [moved]);
    expect(await store.readWeek(P, THU)).toEqual([row('43', THU)]);
    expect(await store.readWeek(P, THU + WEEK)).toEqual([moved]);
    expect(await store.dealRows(P, '42', NOW + WEEK)).toEqual([moved]);
  });

  it('with much old history, answers by scanning while it indexes in the background', async () => {
    const old = [row('42', THU - WEEK), row('42', THU, { stage: 's2' }), row('43', THU)];
    await writeOldLayout(old);
    const store = new HistoryStore(redis, keys, silentLogger, 0);
    expect(byVisit(await store.dealRows(P, '42', NOW))).toEqual(byVisit(old.slice(0, 2)));
    await store.indexingSettled(P);
    expect(await redis.exists(keys.historyIndexed(P))).toBe(1);
    expect(await redis.hlen(keys.historyByDeal(P, '42'))).toBe(2);
    expect(byVisit(await new HistoryStore(redis, keys, silentLogger, 0).dealRows(P, '42', NOW))).toEqual(
      byVisit(old.slice(0, 2)),
    );
  });

  it("a card read never scans the week: its Redis commands touch the deal's index and rows only", async () => {
    const store = new HistoryStore(redis, keys, silentLogger);
    await crowd(store, 5000, THU);
    await store.append(P, [row('42', THU - WEEK), row('42', THU, { stage: 's2' })]);
    await store.dealRows(P, '42', NOW); // the portal's first read indexes it (nothing old here)
    const seen = await commandsDuring(() => store.dealRows(P, '42', NOW));
    const chunksOf = [weekStart(THU), weekStart(THU - WEEK)].map((w) => `${keys.historyLog(P, w)}:`);
    // EXISTS marker + HGETALL index in one round trip, then one GETRANGE per visit of the deal.
    expect(seen.map(([cmd]) => cmd).sort()).toEqual(['exists', 'getrange', 'getrange', 'hgetall']);
    for (const [cmd, key] of seen)
      if (cmd === 'getrange') expect(chunksOf.some((c) => key!.startsWith(c))).toBe(true);
    expect(seen.find(([cmd]) => cmd === 'hgetall')?.[1]).toBe(keys.historyByDeal(P, '42'));
  });
});

describe('HistoryStore by deal, as the week grows (issue #18: the card read independent of week size)', () => {
  it('reads the same commands and bytes for a deal whether its week holds 1,000 or 20,000 other visits', async () => {
    const store = new HistoryStore(redis, keys, silentLogger);
    const mine = [row('42', THU - 60_000), row('42', THU - 120_000, { stage: 's2' }), row('42', THU - WEEK)];
    await store.append(P, mine);
    await crowd(store, 1000, THU);
    await store.dealRows(P, '42', NOW); // the portal's first read indexes it (nothing old here)
    const touched = async () => {
      let rows: HistoryRow[] = [];
      const seen = await commandsDuringWithArgs(async () => (rows = await store.dealRows(P, '42', NOW)));
      expect(byVisit(rows)).toEqual(byVisit(mine));
      // Bytes asked of the chunks: each GETRANGE's range.
      const bytes = seen
        .filter(([cmd]) => cmd === 'getrange')
        .reduce((sum, [, args]) => sum + Number(args[2]) - Number(args[1]) + 1, 0);
      return { commands: seen.map(([cmd]) => cmd).sort(), bytes };
    };
    const small = await touched();
    await crowd(store, 19_000, THU);
    expect(Number(await redis.hget(keys.historyLog(P, weekStart(THU)), 'head'))).toBeGreaterThan(3);
    expect(await touched()).toEqual(small);
    expect(small.commands).toEqual(['exists', 'getrange', 'getrange', 'getrange', 'hgetall']);
    expect(small.bytes).toBe(mine.reduce((sum, r) => sum + encodeChunkRecord(r).length - 1, 0));
  });
});

describe('HistoryStore chunk memory', () => {
  it('copies a chunk once per allocator size class it grows through, not after every append', async () => {
    // Its own redis-server: the command counts are this test's alone. A rewrite that went through SET (a Lua
    // string back into a key) had its spare room trimmed by Redis, so the next APPEND grew it greedily again and
    // the chunk was copied three times on a third of all appends: 2.4 s of Redis per 12,000 transitions.
    const own = await OwnRedis.start({ persist: false });
    const r = new IORedis(own.url, { maxRetriesPerRequest: 3 });
    try {
      const ownKeys = redisKeys('copies');
      const store = new HistoryStore(r, ownKeys, silentLogger, undefined, 64 * 1024);
      const count = async () => {
        const info = await r.info('commandstats');
        const calls = (cmd: string) => Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
        // Every way a script can write a whole chunk again.
        return calls('set') + calls('copy') + calls('rename') + calls('restore');
      };
      const before = await count();
      const rows = Array.from({ length: 1_000 }, (_, i) => row(String(1000 + i), THU + i));
      for (const one of rows) await store.append(P, [one]);
      const copies = (await count()) - before;
      const chunks = Number(await r.hget(ownKeys.historyLog(P, weekStart(THU)), 'head')) + 1;
      // jemalloc has four size classes per doubling, and a chunk grows from 4 KB to 64 KB: 16 classes a chunk.
      expect(chunks).toBeGreaterThan(1);
      expect(copies).toBeLessThanOrEqual(2 * 16 * chunks);
      // Still whole, and still about its length in memory.
      expect(byVisit(await store.readWeek(P, THU))).toEqual(byVisit(rows));
      const chunk = ownKeys.historyChunk(P, weekStart(THU), 0);
      const used = Number(await r.call('MEMORY', 'USAGE', chunk, 'SAMPLES', '0'));
      expect(used).toBeLessThanOrEqual((await r.strlen(chunk)) * 1.25 + 256);
      expect(await r.pttl(chunk)).toBeGreaterThan(0);
    } finally {
      r.disconnect();
      await own.stop();
    }
  });

  it('a chunk holds about its length in memory, not the twice that greedy APPEND growth leaves', async () => {
    // Small chunks, so full chunks and the head chunk are both seen; rows a few at a time, as transitions write.
    const store = new HistoryStore(redis, keys, silentLogger, undefined, 32 * 1024);
    const written: HistoryRow[] = [];
    const worst = { ratio: 0, at: 0 };
    for (let i = 0; i < 500; i += 4) {
      const rows = [0, 1, 2, 3].map((k) => row(String(1000 + i + k), THU + i + k));
      await store.append(P, rows);
      written.push(...rows);
      const head = Number((await redis.hget(keys.historyLog(P, weekStart(THU)), 'head')) ?? 0);
      for (let n = 0; n <= head; n++) {
        const chunk = keys.historyChunk(P, weekStart(THU), n);
        const length = await redis.strlen(chunk);
        if (length < 4096) continue;
        const used = Number(await redis.call('MEMORY', 'USAGE', chunk, 'SAMPLES', '0'));
        // jemalloc rounds up to a size class (at most a quarter more), plus the key's own few dozen bytes.
        if (used / (length * 1.25 + 256) > worst.ratio) worst.ratio = used / (length * 1.25 + 256);
        if (used > length * 1.25 + 256) worst.at = length;
      }
    }
    expect(worst).toMatchObject({ at: 0 });
    expect(worst.ratio).toBeLessThanOrEqual(1);
    expect(await redis.hget(keys.historyLog(P, weekStart(THU)), 'head')).not.toBeNull(); // full chunks seen
    // Rewritten in place, nothing lost or moved: the week and each deal read every row, the TTL kept.
    expect(byVisit(await store.readWeek(P, THU))).toEqual(byVisit(written));
    expect(await store.dealRows(P, '1001', NOW)).toEqual([written[1]]);
    expect(await redis.pttl(keys.historyChunk(P, weekStart(THU), 0))).toBeGreaterThan(0);
  });
});

describe('HistoryStore by week (the scorecard)', () => {
  it('a visit corrected while its week is read in pieces is read once, as corrected, and no record is called damaged', async () => {
    const PIECE = 64;
    // Pieces are asked for 8 to a pipeline: the read gets bytes [0, 1024) in two batches before anything waits.
    const BOUNDARY = 16 * PIECE;
    const rows = Array.from({ length: 20 }, (_, i) => row(String(i), THU + i * 1_000));
    await new HistoryStore(redis, keys, silentLogger).append(P, rows);
    // The row cut at BOUNDARY: the read gets its first part before the correction and the rest after it, with the
    // corrected copy appended past the chunk's length at the start of the read.
    const ends = rows.map((_, i) =>
      rows.slice(0, i + 1).reduce((sum, r) => sum + Buffer.byteLength(encodeChunkRecord(r)), 0),
    );
    const cut = ends.findIndex((end) => end > BOUNDARY);
    expect(ends[cut - 1]).toBeLessThan(BOUNDARY);
    const corrected = { ...rows[cut]!, slaOutcome: 'breached' as const, breachReason: BREACH_REASONS[0] };
    let batches = 0;
    let correction: Promise<void> | undefined;
    const racing = beforeEachPipeline(redis, async (names) => {
      if (names.has('getrange') && ++batches > BOUNDARY / (8 * PIECE))
        await (correction ??= new HistoryStore(redis, keys, silentLogger).append(P, [corrected]));
    });
    const log = pino({ level: 'silent' });
    const warn = vi.spyOn(log, 'warn');
    const got = await new HistoryStore(racing, keys, log, undefined, undefined, PIECE).scanWeek(P, THU);
    expect(correction).toBeDefined();
    expect(byVisit(got)).toEqual(byVisit([...rows.slice(0, cut), corrected, ...rows.slice(cut + 1)]));
    expect(warn).not.toHaveBeenCalled();
  });

  it('a week read whose check of the log fails once (a Redis blip) reads no chunk twice', async () => {
    // Small chunks: the week spans several, so a pass that started again from chunk 1 would count rows twice.
    const store = new HistoryStore(redis, keys, silentLogger, undefined, 300);
    const rows = Array.from({ length: 40 }, (_, i) => row(String(i), THU + i * 1_000));
    await store.append(P, rows);
    expect(Number(await redis.hget(keys.historyLog(P, weekStart(THU)), 'head'))).toBeGreaterThan(2);
    let failed = 0;
    const blip = beforeEachPipeline(redis, (names) => {
      if (names.has('hmget') && failed++ === 0) throw new Error('Connection is closed.');
    });
    const got = await new HistoryStore(blip, keys, silentLogger, undefined, 300).scanWeek(P, THU);
    expect(failed).toBeGreaterThan(0);
    expect(byVisit(got)).toEqual(byVisit(rows));
  });

  it('reads a week larger than one HSCAN page, each visit once', async () => {
    const store = new HistoryStore(redis, keys, silentLogger);
    await crowd(store, 4500, THU);
    const rows = await store.readWeek(P, THU);
    expect(rows).toHaveLength(4500);
    expect(new Set(rows.map(visitKey)).size).toBe(4500);
    expect(rows.map((r) => r.exitedAt)).toEqual([...rows.map((r) => r.exitedAt)].sort((a, b) => a - b));
  });

  it("the bench's timing helper reads the local week the scorecard reads, older and packed rows alike", async () => {
    const store = new HistoryStore(redis, keys, silentLogger, undefined, 4096);
    const range = weekRange('2026-W47', 'UTC');
    const packed = weekOfVisits(3000, range.start, 1_000_000);
    const old = weekOfVisits(500, range.start, 2_000_000);
    await writeVisits(store, P, packed);
    await writeOldLayout(old);
    const playbook = scorecardPlaybook('UTC');
    const timed = await timeScorecardFromRedis(new HistoryWeeks(redis, keys, store), P, playbook, '2026-W47');
    expect(timed.rows).toBe(3500);
    expect(timed.scorecard).toEqual(
      computeScorecard({
        rows: [...packed, ...old],
        playbook,
        week: range.week,
        zone: 'UTC',
        now: range.end,
      }),
    );
  });

  it('a read of the rows exiting in a range reads only the chunks that may hold them', async () => {
    const store = new HistoryStore(redis, keys, silentLogger, undefined, 4096);
    const monday = Date.parse(`${weekStart(THU)}T00:00:00Z`);
    const DAY = 24 * 3600_000;
    // Visits written as they exit, day after day (a few per transition), as the worker writes them.
    const written: HistoryRow[] = [];
    for (let d = 0; d < 7; d++)
      for (let k = 0; k < 300; k += 10) {
        const rows = Array.from({ length: 10 }, (_, j) =>
          row(String(d * 1000 + k + j), monday + d * DAY + (k + j) * 60_000),
        );
        await store.append(P, rows);
        written.push(...rows);
      }
    const head = Number(await redis.hget(keys.historyLog(P, weekStart(THU)), 'head'));
    expect(head).toBeGreaterThan(20);
    const exits = { from: monday + 3 * DAY, to: monday + 4 * DAY };
    let rows: HistoryRow[] = [];
    const seen = await commandsDuring(async () => (rows = await store.scanWeek(P, THU, exits)));
    expect(byVisit(rows)).toEqual(
      byVisit(written.filter((r) => r.exitedAt >= exits.from && r.exitedAt < exits.to)),
    );
    // A day's chunks, and at most one more at each end (a chunk that also holds the day before or after).
    const chunksRead = (commands: typeof seen) =>
      new Set(commands.filter(([cmd]) => cmd === 'getrange').map(([, key]) => key)).size;
    expect(chunksRead(seen)).toBeGreaterThan(0);
    expect(chunksRead(seen)).toBeLessThanOrEqual(Math.ceil((head + 1) / 7) + 2);
    // Unfiltered, every chunk is read.
    const whole = await commandsDuring(() => store.scanWeek(P, THU));
    expect(chunksRead(whole)).toBe(head + 1);
  });

  it('a chunk grown without its exit span (an older release appending) or written before spans is read whole', async () => {
    const store = new HistoryStore(redis, keys, silentLogger);
    const monday = Date.parse(`${weekStart(THU)}T00:00:00Z`);
    const DAY = 24 * 3600_000;
    const early = [row('1', monday + 3_600_000), row('2', monday + 7_200_000)];
    await store.append(P, early);
    // The older release's script appends the record and indexes it, leaving the exit span as it was.
    const late = row('3', monday + 5 * DAY);
    const chunk = keys.historyChunk(P, weekStart(THU), 0);
    await redis.append(chunk, encodeChunkRecord(late));
    const lateDay = { from: monday + 5 * DAY, to: monday + 6 * DAY };
    expect(await store.scanWeek(P, THU, lateDay)).toEqual([late]);
    // Appends of this release do not trust the span again: a later row of the first day is still found with both.
    const later = row('4', monday + 10_800_000);
    await store.append(P, [later]);
    expect(await store.scanWeek(P, THU, lateDay)).toEqual([late]);
    expect(byVisit(await store.scanWeek(P, THU, { from: monday, to: monday + DAY }))).toEqual(
      byVisit([...early, later]),
    );
    // Chunks written before spans were kept have none: read.
    await redis.hdel(keys.historyLog(P, weekStart(THU)), 'exits:0');
    expect(await store.scanWeek(P, THU, lateDay)).toEqual([late]);
  });

  it('reads chunks holding names beyond ASCII (UTF-8) as written', async () => {
    const store = new HistoryStore(redis, keys, silentLogger);
    const written = [row('1', THU), row('2', THU + 1000, { stage: 'étape-rendez-vous', ownerId: 'Zoë 🩺' })];
    await store.append(P, written);
    expect(byVisit(await store.scanWeek(P, THU))).toEqual(byVisit(written));
  });

  it('an older week hash read while written to is not exact (so rows are deduped), each visit once', async () => {
    const store = new HistoryStore(redis, keys, silentLogger);
    const monday = Date.parse(`${weekStart(THU)}T00:00:00Z`);
    const before = weekOfVisits(6000, monday, 1_000_000);
    await writeOldLayout(before);
    const weekKey = keys.history(P, weekStart(THU));
    expect(await hashValues(redis, weekKey, () => undefined)).toEqual({ exact: true });
    const [walk, rows] = await Promise.all([
      hashValues(redis, weekKey, () => undefined),
      store.scanWeek(P, THU),
      writeOldLayout(weekOfVisits(20_000, monday, 2_000_000)),
    ]);
    expect(walk).toEqual({ exact: false });
    const seen = new Set(rows.map(visitKey));
    expect(seen.size).toBe(rows.length);
    for (const r of before) expect(seen.has(visitKey(r))).toBe(true);
  });

  it.each([true, false])(
    'read while visits are added and rewritten, counts each visit once and loses none written before (inputs: %s)',
    async (inputs) => {
      const store = new HistoryStore(redis, keys, silentLogger, undefined, 4096);
      const monday = Date.parse(`${weekStart(THU)}T00:00:00Z`);
      const before = weekOfVisits(6000, monday, 1_000_000);
      await writeVisits(store, P, before);
      expect(await redis.hget(keys.historyLog(P, weekStart(THU)), 'head')).not.toBeNull(); // many chunks
      const replays = before
        .filter((_, i) => i % 3 === 0)
        .map((r) => ({ ...r, businessMs: r.businessMs + 1 }));
      const [rows] = await Promise.all([
        store.scanWeek(P, THU, undefined, { inputs }),
        writeVisits(store, P, weekOfVisits(6000, monday, 2_000_000), 100),
        writeVisits(store, P, replays, 50),
      ]);
      const seen = new Set(rows.map(visitKey));
      expect(seen.size).toBe(rows.length);
      for (const r of before) expect(seen.has(visitKey(r))).toBe(true);
      // Once settled: every visit once, each replay in its rewritten form.
      const after = await store.scanWeek(P, THU, undefined, { inputs });
      expect(after).toHaveLength(12_000);
      const byKey = new Map(after.map((r) => [visitKey(r), r]));
      for (const r of replays) expect(byKey.get(visitKey(r))).toEqual(r);
      await store.columnsBuilt();
    },
  );

  it('replays and corrections in any order: each visit counted once, as its last write (as the week hash kept it)', async () => {
    const playbook = scorecardPlaybook('UTC');
    const range = weekRange('2026-W47', 'UTC');
    // Few deals, stages and entry times, so writes often hit a visit already stored.
    const writeArb = fc
      .record({
        deal: fc.integer({ min: 1, max: 6 }),
        stage: fc.constantFrom('s1', 's2', 's3'),
        entered: fc.integer({ min: 0, max: 3 }),
        exitAfter: fc.integer({ min: 1, max: 100 }),
        outcome: fc.constantFrom('met', 'breached', 'none'),
        reason: fc.constantFrom(...BREACH_REASONS),
      })
      .map(({ deal, stage, entered, exitAfter, outcome, reason }) => {
        const enteredAt = range.start + entered * 3_600_000;
        return row(String(deal), enteredAt + exitAfter * 60_000, {
          stage,
          enteredAt,
          businessMs: exitAfter * 60_000,
          slaOutcome: outcome,
          breachReason: outcome === 'breached' ? reason : null,
        });
      });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(writeArb, { minLength: 1, maxLength: 8 }), { maxLength: 8 }),
        fc.integer({ min: 0, max: 300 }),
        fc.integer({ min: 1, max: 200 }),
        async (batches, from, span) => {
          const portal = String(++run);
          // Small chunks so rewrites land in other chunks than the rows they supersede.
          const store = new HistoryStore(redis, keys, silentLogger, undefined, 600);
          const last = new Map<string, HistoryRow>();
          for (const batch of batches) {
            await store.append(portal, batch);
            for (const r of batch) last.set(visitKey(r), r);
          }
          const read = await store.scanWeek(portal, range.start);
          expect(byVisit(read)).toEqual(byVisit([...last.values()]));
          // A filtered read (chunks outside the range skipped by their exit spans) keeps exactly those rows.
          const exits = { from: range.start + from * 60_000, to: range.start + (from + span) * 60_000 };
          const inRange = (r: HistoryRow) => r.exitedAt >= exits.from && r.exitedAt < exits.to;
          expect(byVisit(await store.scanWeek(portal, range.start, exits))).toEqual(
            byVisit([...last.values()].filter(inRange)),
          );
          // The scorecard's read (filled chunks from their columns, which a rewrite into them deletes), then again
          // once the columns that read found missing are rebuilt.
          for (let pass = 0; pass < 2; pass++) {
            expect(byVisit(await store.scanWeek(portal, range.start, undefined, { inputs: false }))).toEqual(
              byVisit([...last.values()]),
            );
            expect(byVisit(await store.scanWeek(portal, range.start, exits, { inputs: false }))).toEqual(
              byVisit([...last.values()].filter(inRange)),
            );
            await store.columnsBuilt();
          }
          const card = (r: HistoryRow[]) =>
            computeScorecard({ rows: r, playbook, week: range.week, zone: 'UTC', now: range.end });
          expect(card(read)).toEqual(card([...last.values()]));
          for (const r of last.values())
            expect(
              (await store.dealRows(portal, r.dealId, NOW)).filter((d) => visitKey(d) === visitKey(r)),
            ).toEqual([r]);
        },
      ),
      { numRuns: 25 },
    );
  });

  it('gives the scorecard the same result as the old read (HVALS + zod over JSON rows)', async () => {
    const playbook = scorecardPlaybook('UTC');
    const range = weekRange('2026-W47', 'UTC');
    const stages = [
      { pipeline: 'p1', stage: 's1', ownerRole: 'intake' },
      { pipeline: 'p1', stage: 's2', ownerRole: 'intake' },
      { pipeline: 'p1', stage: 's3', ownerRole: 'clinical' },
      { pipeline: 'p2', stage: 'r1', ownerRole: 'clinical' },
    ];
    const visitArb = fc
      .record({
        deal: fc.integer({ min: 1, max: 40 }),
        stage: fc.constantFrom(...stages),
        exit: fc.integer({ min: range.start, max: range.end - 1 }),
        hours: fc.integer({ min: 0, max: 90 }),
        outcome: fc.constantFrom('met', 'breached', 'none', 'cancelled'),
        reason: fc.constantFrom(...BREACH_REASONS),
        manual: fc.boolean(),
        direction: fc.constantFrom('forward', 'backward', 'exit'),
        owner: fc.option(fc.constantFrom('1', '2'), { nil: null }),
        dim: fc.option(fc.constantFrom('A81001', 'B12'), { nil: undefined }),
      })
      .map(({ deal, stage: { pipeline, stage, ownerRole }, exit, hours, outcome, reason, manual, ...v }) => {
        const breached = outcome === 'breached';
        return row(String(deal), exit, {
          pipeline,
          stage,
          ownerRole,
          ownerId: v.owner,
          enteredAt: exit - hours * 3_600_000,
          businessMs: hours * 3_600_000,
          direction: v.direction,
          toStage: v.direction === 'exit' ? null : 's2',
          slaOutcome: outcome,
          breachReason: breached ? reason : null,
          breachedAt: breached ? exit - 1000 : null,
          breachReasonSource: breached ? (manual ? 'manual' : 'inferred') : null,
          ...(breached && manual
            ? { inferredReason: 'other', corrections: [{ at: exit, userId: '9', from: 'other', to: reason }] }
            : {}),
          ...(v.dim ? { dims: { referrer: v.dim } } : {}),
        });
      });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(visitArb, { maxLength: 60 }), async (rows) => {
        const portal = String(++run);
        const oldKeys = redisKeys(`${prefix}-old`);
        const oldWeek = oldKeys.history(portal, weekStart(range.start));
        const pipeline = redis.pipeline();
        for (const r of rows) pipeline.hset(oldWeek, visitKey(r), JSON.stringify(r));
        await pipeline.exec();
        await new HistoryStore(redis, keys, silentLogger).append(portal, rows);
        const oldRead = (await redis.hvals(oldWeek)).flatMap((v) => {
          const parsed = Command.safeParse({ type: 'recordHistory', row: JSON.parse(v) });
          return parsed.success && parsed.data.type === 'recordHistory' ? [parsed.data.row] : [];
        });
        const newRead = await new HistoryStore(redis, keys, silentLogger).readWeek(portal, range.start);
        const card = (r: HistoryRow[]) =>
          computeScorecard({ rows: r, playbook, week: range.week, zone: 'UTC', now: range.end });
        expect(newRead).toHaveLength(new Set(rows.map(visitKey)).size);
        expect(card(newRead)).toEqual(card(oldRead));
      }),
      { numRuns: 25 },
    );
    await deletePrefix(redis, `${prefix}-old`);
  });
});

describe('HistoryStore chunk columns (issue #18: the scorecard over 1M rows from Redis in < 2 s)', () => {
  const monday = Date.parse(`${weekStart(THU)}T00:00:00Z`);
  const week = weekStart(THU);
  /** Visits of many kinds (breached ones with evidence, corrections and dims; some with inputs), across the week. */
  const visits = (n: number, firstDeal = 1): HistoryRow[] =>
    weekOfVisits(n, monday, firstDeal).map((r, i) =>
      i % 5 === 0
        ? {
            ...r,
            breachReasonSource: 'manual' as const,
            inferredReason: 'other' as const,
            corrections: [{ at: r.exitedAt, userId: '9', from: 'other' as const, to: 'capacity' as const }],
            breachEvidence: ['capacity'],
            dims: { referrer: `R${i % 3}` },
          }
        : i % 7 === 0
          ? {
              ...r,
              inputs: {
                entry: { props: { a: 'x' }, held: {} },
                exit: { props: {}, held: {} },
                pauses: [],
                pauseKey: '[]',
              },
            }
          : r,
    );
  const withoutInputs = (rows: HistoryRow[]) => rows.map(({ inputs: _inputs, ...r }) => r as HistoryRow);
  const columnsOf = async (head: number) => {
    const pipeline = redis.pipeline();
    for (let n = 0; n <= head; n++) pipeline.exists(keys.historyColumns(P, week, n));
    return ((await pipeline.exec()) ?? []).map(([, v]) => v);
  };
  const headOf = async () => Number(await redis.hget(keys.historyLog(P, week), 'head'));
  const textChunksRead = (seen: [string, string | undefined][]) =>
    new Set(seen.filter(([cmd, key]) => cmd === 'getrange' && !key?.endsWith(':cols')).map(([, key]) => key));

  it('a chunk gets its columns when it fills; the scorecard reads those instead of its text, to the same rows', async () => {
    const store = new HistoryStore(redis, keys, silentLogger, undefined, 4096);
    const written = visits(300);
    await writeVisits(store, P, written, 25);
    const head = await headOf();
    expect(head).toBeGreaterThan(5);
    // Every filled chunk has columns; the head chunk, still filling, has none.
    expect(await columnsOf(head)).toEqual([...Array<number>(head).fill(1), 0]);
    let rows: HistoryRow[] = [];
    const seen = await commandsDuring(
      async () => (rows = await store.scanWeek(P, THU, undefined, { inputs: false })),
    );
    expect(byVisit(rows)).toEqual(byVisit(withoutInputs(written)));
    // Only the head chunk's text is read.
    expect([...textChunksRead(seen)]).toEqual([keys.historyChunk(P, week, head)]);
    // Readers that replay visits need their inputs: they read the text, as before.
    const whole = await commandsDuring(async () => (rows = await store.scanWeek(P, THU)));
    expect(byVisit(rows)).toEqual(byVisit(written));
    expect(textChunksRead(whole).size).toBe(head + 1);
  });

  it("a visit rewritten in a filled chunk is read once, as rewritten: the chunk's columns go, then come back", async () => {
    const store = new HistoryStore(redis, keys, silentLogger, undefined, 4096);
    const written = visits(300);
    await writeVisits(store, P, written, 25);
    const head = await headOf();
    const corrected = {
      ...written[1]!,
      breachReason: 'patient_unreachable' as const,
      slaOutcome: 'breached' as const,
    };
    await store.append(P, [corrected]);
    // The visit was in chunk 0: its columns are gone, the others kept.
    expect((await columnsOf(head))[0]).toBe(0);
    expect((await columnsOf(head)).slice(1, head)).toEqual(Array<number>(head - 1).fill(1));
    const expected = byVisit(withoutInputs([corrected, ...written.filter((_, i) => i !== 1)]));
    expect(byVisit(await store.scanWeek(P, THU, undefined, { inputs: false }))).toEqual(expected);
    // That read found chunk 0 filled without columns and rebuilt them.
    await store.columnsBuilt();
    expect((await columnsOf(head))[0]).toBe(1);
    let rows: HistoryRow[] = [];
    const seen = await commandsDuring(
      async () => (rows = await store.scanWeek(P, THU, undefined, { inputs: false })),
    );
    expect(byVisit(rows)).toEqual(expected);
    expect(textChunksRead(seen).has(keys.historyChunk(P, week, 0))).toBe(false);
  });

  it('columns are not stored from a chunk that changed while they were made (a row superseded meanwhile)', async () => {
    const store = new HistoryStore(redis, keys, silentLogger, undefined, 4096);
    const written = visits(300);
    await writeVisits(store, P, written, 25);
    await redis.del(keys.historyColumns(P, week, 0));
    const corrected = { ...written[1]!, businessMs: 1 };
    const real = redis.getBuffer.bind(redis);
    const spy = vi.spyOn(redis, 'getBuffer').mockImplementationOnce(async (key: RedisKey) => {
      const text = await real(key);
      await store.append(P, [corrected]);
      return text;
    });
    try {
      expect(await store.buildColumns(P, week, 0)).toBe(false);
    } finally {
      spy.mockRestore();
    }
    expect(await redis.exists(keys.historyColumns(P, week, 0))).toBe(0);
    // Built from the chunk as it is now, they are stored and read to the corrected visit.
    expect(await store.buildColumns(P, week, 0)).toBe(true);
    const rows = await store.scanWeek(P, THU, undefined, { inputs: false });
    expect(rows.filter((r) => visitKey(r) === visitKey(corrected))).toEqual(withoutInputs([corrected]));
    expect(rows).toHaveLength(300);
  });

  it('columns replaced while read in pieces (a row superseded, the columns rebuilt): read from the text instead', async () => {
    const store = new HistoryStore(redis, keys, silentLogger, undefined, 4096, 512);
    const written = visits(300);
    await writeVisits(store, P, written, 25);
    const corrected = { ...written[1]!, businessMs: 1 };
    let getranges = 0;
    const racing = beforeEachPipeline(redis, async (names) => {
      // Between the first and the second batch of pieces (chunk 0's columns span both).
      if (names.has('getrange') && ++getranges === 2) {
        await store.append(P, [corrected]);
        expect(await store.buildColumns(P, week, 0)).toBe(true);
      }
    });
    const rows = await new HistoryStore(racing, keys, silentLogger, undefined, 4096, 512).scanWeek(
      P,
      THU,
      undefined,
      { inputs: false },
    );
    expect(getranges).toBeGreaterThan(2);
    expect(byVisit(rows)).toEqual(byVisit(withoutInputs([corrected, ...written.filter((_, i) => i !== 1)])));
  });

  it("damaged columns, or columns of another length of the chunk: the read uses the chunk's text and mends them", async () => {
    const store = new HistoryStore(redis, keys, silentLogger, undefined, 4096);
    const written = visits(300);
    await writeVisits(store, P, written, 25);
    const expected = byVisit(withoutInputs(written));
    await redis.set(keys.historyColumns(P, week, 0), 'not columns');
    await redis.set(
      keys.historyColumns(P, week, 1),
      encodeChunkColumns([], { length: 5, id: '0'.repeat(40) }),
    );
    let rows: HistoryRow[] = [];
    const seen = await commandsDuring(
      async () => (rows = await store.scanWeek(P, THU, undefined, { inputs: false })),
    );
    expect(byVisit(rows)).toEqual(expected);
    expect(textChunksRead(seen)).toEqual(
      new Set([0, 1, await headOf()].map((n) => keys.historyChunk(P, week, n))),
    );
    // Made again from the text: the next read reads them.
    await store.columnsBuilt();
    const again = await commandsDuring(
      async () => (rows = await store.scanWeek(P, THU, undefined, { inputs: false })),
    );
    expect(byVisit(rows)).toEqual(expected);
    expect(textChunksRead(again)).toEqual(new Set([keys.historyChunk(P, week, await headOf())]));
  });

  it('the scorecard of a week read from columns is the scorecard of its rows', async () => {
    const playbook = scorecardPlaybook('UTC');
    const range = weekRange('2026-W47', 'UTC');
    const store = new HistoryStore(redis, keys, silentLogger, undefined, 4096);
    const written = visits(400).map((r, i) => ({
      ...r,
      pipeline: 'p1',
      stage: `s${1 + (i % 3)}`,
      toStage: i % 9 === 0 ? null : 's2',
    }));
    await writeVisits(store, P, written, 25);
    expect(await headOf()).toBeGreaterThan(5);
    const fold = await new HistoryWeeks(redis, keys, store).scorecard(P, playbook, range, {
      zone: 'UTC',
      now: range.end,
    });
    expect(fold.result()).toEqual(
      computeScorecard({ rows: written, playbook, week: range.week, zone: 'UTC', now: range.end }),
    );
  });
});

/** The commands (name, first key) Redis ran on this test's keys while `fn` ran (testing/redis-monitor.ts). */
async function commandsDuring(fn: () => Promise<unknown>): Promise<[string, string | undefined][]> {
  return (await commandsDuringWithArgs(fn)).map(([cmd, args]) => [cmd, args[0]]);
}

/** As commandsDuring, with each command's arguments (key first). */
async function commandsDuringWithArgs(fn: () => Promise<unknown>): Promise<[string, string[]][]> {
  return (await monitorCommands(redis, prefix, fn)).map(({ cmd, args }) => [cmd, args]);
}
