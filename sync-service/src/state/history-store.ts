import { visitKey, type HistoryRow } from '@stagekeeper/shared';
import type { Redis } from 'ioredis';
import type { Logger } from '../log';
import { corruptRecords } from '../metrics';
import { decodeHistoryRow, encodeHistoryRow } from './history-row-codec';
import { hashValues, scanHash } from './hash-scan';
import { assertKeyPart, type Keys } from './keys';

const DAY_MS = 24 * 3600_000;
const WEEK_MS = 7 * DAY_MS;
/** The scorecard looks back a year at most; older weeks expire on their own. */
export const HISTORY_TTL_MS = 400 * DAY_MS;
/** Weeks a row can still be stored in: HISTORY_TTL_MS counted from the end of its exit week, plus this week. */
export const HISTORY_WEEKS_KEPT = Math.ceil(400 / 7) + 1;
/**
 * Up to this many unindexed rows, the deal read that finds them indexes them before answering (well under a
 * second); beyond, indexing runs in the background so no card read waits for it.
 */
const INDEX_NOW_LIMIT = 50_000;

/** Monday 00:00 UTC of the week containing `ms`, as YYYY-MM-DD (the week bucket of a stage exit). */
export function weekStart(ms: number): string {
  const day = Math.floor(ms / DAY_MS);
  // 1970-01-01 was a Thursday: shift so Monday is 0.
  const monday = day - ((day + 3) % 7);
  return new Date(monday * DAY_MS).toISOString().slice(0, 10);
}

/** The week buckets a row may still be stored in at `now`, newest first. */
export function keptWeeks(now: number): string[] {
  return Array.from({ length: HISTORY_WEEKS_KEPT }, (_, i) => weekStart(now - i * WEEK_MS));
}

/** One row per stage visit: a retried job rewrites the same field instead of appending a duplicate. */
const rowKey = visitKey;

/**
 * Finished stage visits per portal, stored twice over:
 * - by exit week (UTC), a hash visitKey -> row, for the scorecard, which reads whole weeks;
 * - by deal, a hash visitKey -> exit week, for the card, which reads one deal's visits without touching the
 *   rest of the week (the week can hold hundreds of thousands of visits).
 * Hashes (not streams) because the worker may replay a decision after a crash or a state conflict: the replay
 * writes the same fields again. Rows written before the deal index existed are indexed once per portal
 * (indexLegacy); until then a deal's read falls back to scanning the weeks for its fields.
 */
export class HistoryStore {
  /** Legacy indexing under way in this process, per portal (one at a time; repeating it is harmless). */
  private readonly indexing = new Map<string, Promise<void>>();

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly log: Logger,
    /** Tests lower it to see the background path without writing 50,000 rows. */
    private readonly indexNowLimit = INDEX_NOW_LIMIT,
  ) {}

  async append(portalId: string, rows: HistoryRow[]): Promise<void> {
    if (rows.length === 0) return;
    const pipeline = this.redis.pipeline();
    const touched = new Set<string>();
    for (const row of rows) {
      const week = weekStart(row.exitedAt);
      const weekKey = this.keys.history(portalId, week);
      const dealKey = this.keys.historyByDeal(portalId, row.dealId);
      pipeline.hset(weekKey, rowKey(row), encodeHistoryRow(row));
      pipeline.hset(dealKey, rowKey(row), week);
      touched.add(weekKey).add(dealKey);
    }
    // The deal's index lives as long as its newest week (every write pushes both back).
    for (const key of touched) pipeline.pexpire(key, HISTORY_TTL_MS);
    const replies = (await pipeline.exec()) ?? [];
    const failed = replies.find(([err]) => err);
    if (failed) throw failed[0];
  }

  /** Rows whose stage exit falls in the UTC week starting on `week` (any date in the week works), oldest exit first. */
  async readWeek(portalId: string, week: string | number): Promise<HistoryRow[]> {
    return (await this.scanWeek(portalId, week)).sort((a, b) => a.exitedAt - b.exitedAt);
  }

  /**
   * The same rows in no particular order, for readers that aggregate (the scorecard: sorting a million rows costs
   * about as much as reading them). Read in pages (hashValues), never one HVALS: a week of 200,000 rows in one
   * reply held Redis (and every other client, webhook acknowledgements included) for 222 ms.
   */
  async scanWeek(portalId: string, week: string | number): Promise<HistoryRow[]> {
    const start = typeof week === 'number' ? weekStart(week) : weekStart(Date.parse(`${week}T00:00:00Z`));
    let rows: HistoryRow[] = [];
    let corrupt = 0;
    const { exact } = await hashValues(this.redis, this.keys.history(portalId, start), (values) => {
      for (const value of values) {
        const row = decodeHistoryRow(value);
        if (row) rows.push(row);
        else corrupt++;
      }
    });
    // Written to while read: a visit may have come twice (see hashValues); keep its last copy.
    if (!exact) rows = [...new Map(rows.map((r) => [rowKey(r), r])).values()];
    if (corrupt > 0) {
      corruptRecords.inc({ kind: 'history_row' }, corrupt);
      this.log.warn({ portalId, week: start, corrupt }, 'skipped corrupt stage history rows');
    }
    return rows;
  }

  /**
   * One deal's visits still kept at `now`: its index, then its rows from the weeks the index names. Two round
   * trips and O(visits of the deal) work, whatever the size of the weeks. Until the portal's older rows are
   * indexed, the weeks are scanned for the deal's fields instead (and the indexing is started).
   */
  async dealRows(portalId: string, dealId: string, now: number): Promise<HistoryRow[]> {
    const indexKey = this.keys.historyByDeal(portalId, dealId);
    const [[, indexed], [indexErr, index]] = ((await this.redis
      .pipeline()
      .exists(this.keys.historyIndexed(portalId))
      .hgetall(indexKey)
      .exec()) ?? []) as [[Error | null, number], [Error | null, Record<string, string>]];
    if (indexed === 1) return indexErr ? [] : this.rowsOfIndex(portalId, dealId, now, index);
    // Small history: index it now and answer from the index; a large one is indexed in the background while
    // this read scans as reads did before the index.
    this.startIndexing(portalId, now);
    if ((await this.keptRowCount(portalId, now)) <= this.indexNowLimit) {
      await this.indexingSettled(portalId);
      if ((await this.redis.exists(this.keys.historyIndexed(portalId))) === 1)
        return this.rowsOfIndex(portalId, dealId, now, await this.redis.hgetall(indexKey));
    }
    return this.scanDealRows(portalId, dealId, now);
  }

  /** The rows an index names, from the kept weeks only (one HMGET per week the deal has visits in). */
  private async rowsOfIndex(
    portalId: string,
    dealId: string,
    now: number,
    index: Record<string, string>,
  ): Promise<HistoryRow[]> {
    const kept = new Set(keptWeeks(now));
    const byWeek = new Map<string, string[]>();
    for (const [field, week] of Object.entries(index))
      if (kept.has(week)) byWeek.set(week, [...(byWeek.get(week) ?? []), field]);
    if (byWeek.size === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const [week, fields] of byWeek) pipeline.hmget(this.keys.history(portalId, week), ...fields);
    const replies = (await pipeline.exec()) ?? [];
    const rows: HistoryRow[] = [];
    for (const [err, values] of replies) {
      // A key of another type (corruption) reads as no rows, as the week readers treat bad rows.
      if (err) continue;
      for (const value of values as (string | null)[]) {
        const row = value === null ? null : decodeHistoryRow(value);
        if (row && row.dealId === dealId) rows.push(row);
      }
    }
    return rows;
  }

  /**
   * Indexes by deal the rows of every kept week (rows written before the deal index existed), then marks the
   * portal indexed so deal reads stop scanning. Idempotent: rows written meanwhile index themselves, and an
   * entry written twice holds the same week.
   */
  async indexLegacy(portalId: string, now: number): Promise<void> {
    for (const week of keptWeeks(now)) {
      const weekKey = this.keys.history(portalId, week);
      await scanHash(this.redis, weekKey, async (flat) => {
        const pipeline = this.redis.pipeline();
        const deals = new Set<string>();
        for (let i = 0; i < flat.length; i += 2) {
          const field = flat[i]!;
          // visitKey is `${dealId}:${stage}:${enteredAt}`; a deal id never holds ":" (keys.ts).
          const dealId = field.slice(0, field.indexOf(':'));
          if (!isKeyPart(dealId)) continue;
          pipeline.hset(this.keys.historyByDeal(portalId, dealId), field, week);
          deals.add(dealId);
        }
        for (const dealId of deals)
          pipeline.pexpire(this.keys.historyByDeal(portalId, dealId), HISTORY_TTL_MS);
        const replies = (await pipeline.exec()) ?? [];
        const failed = replies.find(([err]) => err);
        if (failed) throw failed[0];
      });
    }
    // Expires with the weeks it vouches for; a portal without history then indexes its (empty) weeks again.
    await this.redis.set(this.keys.historyIndexed(portalId), String(now), 'PX', HISTORY_TTL_MS);
  }

  /** Rows in the portal's kept weeks (HLEN is O(1) per week). */
  private async keptRowCount(portalId: string, now: number): Promise<number> {
    const pipeline = this.redis.pipeline();
    for (const week of keptWeeks(now)) pipeline.hlen(this.keys.history(portalId, week));
    const replies = (await pipeline.exec()) ?? [];
    return replies.reduce((sum, [err, n]) => sum + (err ? 0 : (n as number)), 0);
  }

  /** Started by a deal read that found the portal unindexed; resolves when this process's run is over. */
  indexingSettled(portalId: string): Promise<void> {
    return this.indexing.get(portalId) ?? Promise.resolve();
  }

  private startIndexing(portalId: string, now: number): void {
    if (this.indexing.has(portalId)) return;
    const run = this.indexLegacy(portalId, now)
      .catch((err: unknown) =>
        this.log.warn({ portalId, err }, 'indexing stage history by deal failed; will retry on a later read'),
      )
      .finally(() => this.indexing.delete(portalId));
    this.indexing.set(portalId, run);
  }

  /** The read before the deal index: each kept week scanned for the deal's fields (cost grows with the week). */
  private async scanDealRows(portalId: string, dealId: string, now: number): Promise<HistoryRow[]> {
    const match = `${assertKeyPart('dealId', dealId)}:*`;
    const rows = new Map<string, HistoryRow>();
    await Promise.all(
      keptWeeks(now).map((week) =>
        scanHash(
          this.redis,
          this.keys.history(portalId, week),
          (flat) => {
            for (let j = 1; j < flat.length; j += 2) {
              const row = decodeHistoryRow(flat[j]!);
              if (row && row.dealId === dealId) rows.set(flat[j - 1]!, row);
            }
          },
          match,
          // A key of another type (corruption) reads as an empty week, as the week readers treat bad rows.
        ).catch(() => undefined),
      ),
    );
    return [...rows.values()];
  }
}

function isKeyPart(value: string): boolean {
  try {
    assertKeyPart('dealId', value);
    return true;
  } catch {
    return false;
  }
}
