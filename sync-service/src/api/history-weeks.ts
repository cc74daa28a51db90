import {
  historyNeededUntil,
  startScorecard,
  type HistoryRow,
  type ExitRange,
  type Playbook,
  type RowBatch,
  type ScorecardFold,
  type WeekRange,
} from '@stagekeeper/shared';
import type { Redis } from 'ioredis';
import { weekStart, type HistoryStore } from '../state/history-store';
import type { Keys } from '../state/keys';

const WEEK_MS = 7 * 24 * 3600_000;

/** The scorecard's view of HistoryStore: rows for a local week and which weeks hold any. */
export class HistoryWeeks {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly history: Pick<HistoryStore, 'scanWeek' | 'streamWeek'>,
  ) {}

  /**
   * A local week spans one or two stored UTC weeks; rows outside the range are left to the caller's filter.
   * In no particular order: the scorecard aggregates. (The what-if replays these whole, outside rows included.)
   */
  async rows(portalId: string, fromMs: number, toMs: number): Promise<HistoryRow[]> {
    return this.read(portalId, fromMs, toMs);
  }

  /**
   * Only the rows whose exit falls in [fromMs, toMs), for the scorecard, without their visit inputs (it counts
   * visits and never replays them; checking the inputs of a row that recorded any cost ~10 us). The local week's
   * second UTC week is often the current one, busy with visits of other days: its chunks holding none of the range
   * are not read, and other rows outside are dropped as they are decoded, so they never become objects.
   */
  async rowsExiting(portalId: string, fromMs: number, toMs: number): Promise<HistoryRow[]> {
    if (!(fromMs < toMs)) return [];
    return this.read(portalId, fromMs, toMs, { from: fromMs, to: toMs }, false);
  }

  /**
   * rowsExiting's rows folded into `fresh()` a chunk at a time (the scorecard: no million row objects kept, and
   * other requests served between chunks), week after week in the order rowsExiting returns them. A read that
   * overlapped a rewrite may have handed a visit over twice: then a fresh fold is fed the deduped rows instead.
   */
  async foldExiting<F extends { add(rows: RowBatch): void }>(
    portalId: string,
    fromMs: number,
    toMs: number,
    fresh: () => F,
  ): Promise<F> {
    const fold = fresh();
    if (!(fromMs < toMs)) return fold;
    const exits = { from: fromMs, to: toMs };
    let exact = true;
    for (const week of this.buckets(fromMs, toMs))
      exact =
        (await this.history.streamWeek(portalId, week, exits, (rows) => fold.add(rows), { inputs: false })) &&
        exact;
    if (exact) return fold;
    const again = fresh();
    again.add(await this.read(portalId, fromMs, toMs, exits, false));
    return again;
  }

  /**
   * A week's (or month's) scorecard, folded from its rows as foldExiting reads them: the one way the app's
   * scorecard, the CLI and the local page compute it. Re-referral (seed 004) reads referrals up to 30 days past the
   * period (no further than now). `result(open)` with the visits open now finishes it.
   */
  scorecard(
    portalId: string,
    playbook: Playbook,
    range: Pick<WeekRange, 'week' | 'start' | 'end'>,
    opts: { zone: string; now: number; availableWeeks?: string[] },
  ): Promise<ScorecardFold> {
    return this.foldExiting(portalId, range.start, historyNeededUntil(playbook, range.end, opts.now), () =>
      startScorecard({ playbook, week: range.week, ...opts }),
    );
  }

  private buckets(fromMs: number, toMs: number): string[] {
    const buckets = new Set<string>();
    for (let t = Date.parse(`${weekStart(fromMs)}T00:00:00Z`); t < toMs; t += WEEK_MS)
      buckets.add(weekStart(t));
    return [...buckets];
  }

  private async read(
    portalId: string,
    fromMs: number,
    toMs: number,
    exits?: ExitRange,
    inputs = true,
  ): Promise<HistoryRow[]> {
    const weeks = await Promise.all(
      this.buckets(fromMs, toMs).map((w) => this.history.scanWeek(portalId, w, exits, { inputs })),
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
