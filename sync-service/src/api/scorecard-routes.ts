import { computeScorecard, openVisitOf, latestCompleteWeek, reportingZone, isoWeekOf, weekRange, WeekError } from '@stagekeeper/shared';
import { Router } from 'express';
import type { ApiDeps } from './deps';
import { ApiError } from './errors';
import { sendJson } from './respond';
import { callerOf, verifiedCaller } from './verify';

/** §4.7: the picker offers at most this many weeks. */
const MAX_WEEKS = 26;
const WEEK_MS = 7 * 24 * 3600_000;

export function scorecardRoutes(deps: ApiDeps): Router {
  const router = Router();
  const signed = verifiedCaller(deps);
  const clock = deps.clock ?? Date.now;

  /**
   * Local weeks that may hold data. History is stored per UTC week, and a UTC week overlaps at most two local
   * weeks (those of its first and last instant), so a listed week can turn out empty; the page then shows its
   * empty state.
   */
  async function availableWeeks(portalId: string, zone: string, now: number): Promise<string[]> {
    const stored = await deps.weeks.stored(portalId, now, MAX_WEEKS + 1);
    const current = isoWeekOf(now, zone);
    const weeks = new Set<string>();
    for (const monday of stored) for (const w of [isoWeekOf(monday, zone), isoWeekOf(monday + WEEK_MS - 1, zone)]) if (w <= current) weeks.add(w);
    return [...weeks].sort().reverse().slice(0, MAX_WEEKS);
  }

  router.get('/scorecard', ...signed, async (req, res) => {
    const { portalId } = callerOf(req);
    const raw = new URLSearchParams(req.originalUrl.split('?')[1] ?? '').getAll('week');
    if (raw.length > 1) throw new ApiError('invalid_request', 'Ask for one week at a time.');
    const now = clock();
    const current = await deps.playbooks.current(portalId);
    const zone = reportingZone(current?.playbook);
    let range;
    try {
      range = weekRange(raw[0] ?? latestCompleteWeek(now, zone), zone);
    } catch (err) {
      if (err instanceof WeekError) throw new ApiError('invalid_request', 'The week must be an ISO week like 2026-W47.');
      throw err;
    }
    const availableWeeksList = await availableWeeks(portalId, zone, now);
    if (!current) {
      const { week, weekStart, weekEnd, timeZone } = range;
      return sendJson(res, { week, weekStart, weekEnd, timeZone, availableWeeks: availableWeeksList, byStage: [], byRole: [] });
    }
    const rows = await deps.weeks.rows(portalId, range.start, range.end);
    // Deals still in a stage (stuck work, breached in place), from the stored state the what-if also reads.
    const running = deps.whatIfData ? (await deps.whatIfData(portalId, now, 0)).running : [];
    const open = running.flatMap((s) => openVisitOf(s) ?? []);
    sendJson(
      res,
      computeScorecard({ rows, playbook: current.playbook, week: range.week, zone, availableWeeks: availableWeeksList, open, now }),
    );
  });

  return router;
}
