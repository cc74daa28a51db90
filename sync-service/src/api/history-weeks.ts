import type { HistoryRow } from '@stagekeeper/shared';
import type { Redis } from 'ioredis';
import { weekStart, type HistoryStore } from '../state/history-store';
import type { Keys } from '../state/keys';

const WEEK_MS = 7 * 24 * 3600_000;

/** The scorecard's view of HistoryStore: rows for a local week and which weeks hold any. */
export class HistoryWeeks {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly history: Pick<HistoryStore, 'scanWeek'>,
  ) {}

  /**
   * Rows whose exit falls in [fromMs, toMs), in no particular order (the scorecard aggregates). A local week spans
   * one or two stored UTC weeks, and the second is often the current week, busy with visits of other days: rows
   * outside the range are dropped as they are decoded, so a million of them never become objects. An empty range
   * reads nothing (the scorecard's open-visit read asks for [now, now) and used to decode the whole current week).
   */
  async rows(portalId: string, fromMs: number, toMs: number): Promise<HistoryRow[]> {
    if (!(fromMs < toMs)) return [];
    const buckets = new Set<string>();
    for (let t = Date.parse(`${weekStart(fromMs)}T00:00:00Z`); t < toMs; t += WEEK_MS)
      buckets.add(weekStart(t));
    const weeks = await Promise.all(
      [...buckets].map((w) => this.history.scanWeek(portalId, w, { from: fromMs, to: toMs })),
    );
    // concat copies packed arrays in bulk; flat() walked a million rows one by one (~0.1 s).
    const [first = [], ...rest] = weeks;
    return rest.length === 0 ? first : first.concat(...rest);
  }

  async stored(portalId: string, now: number, count: number): Promise<number[]> {
    const mondays = Array.from({ length: count }, (_, i) =>
      Date.parse(`${weekStart(now - i * WEEK_MS)}T00:00:00Z`),
    );
    const pipeline = this.redis.pipeline();
    // A week holds rows in its first chunk, or in its week hash if written before rows were packed.
    for (const m of mondays)
      pipeline.exists(
        this.keys.historyChunk(portalId, weekStart(m), 0),
        this.keys.history(portalId, weekStart(m)),
      );
    const replies = (await pipeline.exec()) ?? [];
    return mondays.filter((_, i) => ((replies[i]?.[1] as number | undefined) ?? 0) > 0);
  }
}
