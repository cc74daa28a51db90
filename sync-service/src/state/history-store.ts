import { Command, visitKey, type HistoryRow } from '@stagekeeper/shared';
import type { Redis } from 'ioredis';
import type { Logger } from '../log';
import { corruptRecords } from '../metrics';
import type { Keys } from './keys';

const DAY_MS = 24 * 3600_000;
/** The scorecard looks back a year at most; older weeks expire on their own. */
const HISTORY_TTL_MS = 400 * DAY_MS;

/** Monday 00:00 UTC of the week containing `ms`, as YYYY-MM-DD (the week bucket of a stage exit). */
export function weekStart(ms: number): string {
  const day = Math.floor(ms / DAY_MS);
  // 1970-01-01 was a Thursday: shift so Monday is 0.
  const monday = day - ((day + 3) % 7);
  return new Date(monday * DAY_MS).toISOString().slice(0, 10);
}

/** One row per stage visit: a retried job rewrites the same field instead of appending a duplicate. */
const rowKey = visitKey;

/**
 * Finished stage visits per portal, bucketed by the UTC week of the exit, for the weekly scorecard.
 * A hash per week (not a stream) because the worker may replay a decision after a crash or a state conflict.
 */
export class HistoryStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly log: Logger,
  ) {}

  async append(portalId: string, rows: HistoryRow[]): Promise<void> {
    if (rows.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const row of rows) {
      const key = this.keys.history(portalId, weekStart(row.exitedAt));
      pipeline.hset(key, rowKey(row), JSON.stringify(row));
      pipeline.pexpire(key, HISTORY_TTL_MS);
    }
    const replies = (await pipeline.exec()) ?? [];
    const failed = replies.find(([err]) => err);
    if (failed) throw failed[0];
  }

  /** Rows whose stage exit falls in the UTC week starting on `week` (any date in the week works). */
  async readWeek(portalId: string, week: string | number): Promise<HistoryRow[]> {
    const start = typeof week === 'number' ? weekStart(week) : weekStart(Date.parse(`${week}T00:00:00Z`));
    const values = await this.redis.hvals(this.keys.history(portalId, start));
    const rows: HistoryRow[] = [];
    let corrupt = 0;
    for (const value of values) {
      try {
        const parsed = Command.safeParse({ type: 'recordHistory', row: JSON.parse(value) });
        if (parsed.success && parsed.data.type === 'recordHistory') rows.push(parsed.data.row);
        else corrupt++;
      } catch {
        corrupt++;
      }
    }
    if (corrupt > 0) {
      corruptRecords.inc({ kind: 'history_row' }, corrupt);
      this.log.warn({ portalId, week: start, corrupt }, 'skipped corrupt stage history rows');
    }
    return rows.sort((a, b) => a.exitedAt - b.exitedAt);
  }
}
