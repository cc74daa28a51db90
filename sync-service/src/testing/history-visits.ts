import {
  computeScorecard,
  reportingZone,
  weekRange,
  type HistoryRow,
  type Playbook,
  type Scorecard,
} from '@stagekeeper/shared';
import type { HistoryWeeks } from '../api/history-weeks';
import type { HistoryStore } from '../state/history-store';

const WEEK_MS = 7 * 24 * 3600_000;
const HOUR = 3600_000;

/**
 * `count` finished visits of distinct deals (ids from `firstDealId` up), exits spread over the UTC week starting
 * at `monday` (epoch ms), a quarter of them breached: a busy week for tests and benchmarks of the history reads.
 */
export function weekOfVisits(count: number, monday: number, firstDealId = 1_000_000_000): HistoryRow[] {
  const rows: HistoryRow[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const exitedAt = monday + Math.floor(((i + 0.5) / count) * WEEK_MS);
    const breached = i % 4 === 0;
    rows[i] = {
      dealId: String(firstDealId + i),
      pipeline: 'default',
      stage: `stage${i % 7}`,
      ownerRole: i % 2 ? 'intake' : 'clinical',
      ownerId: i % 3 ? String(5000 + (i % 40)) : null,
      enteredAt: exitedAt - (1 + (i % 30)) * HOUR,
      exitedAt,
      businessMs: (1 + (i % 30)) * HOUR,
      toStage: `stage${(i + 1) % 7}`,
      direction: 'forward',
      slaOutcome: breached ? 'breached' : 'met',
      breachReason: breached ? 'capacity' : null,
      breachedAt: breached ? exitedAt - HOUR : null,
      breachReasonSource: breached ? 'inferred' : null,
    };
  }
  return rows;
}

/** Writes rows as the worker does (HistoryStore.append), `batch` rows per pipeline. */
export async function writeVisits(
  store: Pick<HistoryStore, 'append'>,
  portalId: string,
  rows: HistoryRow[],
  batch = 2000,
): Promise<void> {
  for (let i = 0; i < rows.length; i += batch) await store.append(portalId, rows.slice(i, i + batch));
}

/**
 * The scorecard of a week timed from Redis to result, for benchmarks: the week's rows read as the scorecard API
 * reads them (HistoryWeeks.rows over the UTC weeks the local week touches), then computed. Milliseconds each.
 */
export async function timeScorecardFromRedis(
  weeks: Pick<HistoryWeeks, 'rows'>,
  portalId: string,
  playbook: Playbook,
  isoWeek: string,
  zone = reportingZone(playbook),
): Promise<{ rows: number; readMs: number; computeMs: number; scorecard: Scorecard }> {
  const range = weekRange(isoWeek, zone);
  const t0 = performance.now();
  const rows = await weeks.rows(portalId, range.start, range.end);
  const t1 = performance.now();
  const scorecard = computeScorecard({ rows, playbook, week: range.week, zone, now: range.end });
  return { rows: rows.length, readMs: t1 - t0, computeMs: performance.now() - t1, scorecard };
}
