import {
  formatScorecard,
  openVisitOf,
  latestCompleteWeek,
  latestCompleteMonth,
  monthRange,
  monthOf,
  reportingZone,
  isoWeekOf,
  weekRange,
  WeekError,
} from '@stagekeeper/shared';
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
    for (const monday of stored)
      for (const w of [isoWeekOf(monday, zone), isoWeekOf(monday + WEEK_MS - 1, zone)])
        if (w <= current) weeks.add(w);
    return [...weeks].sort().reverse().slice(0, MAX_WEEKS);
  }

  router.get('/scorecard', ...signed, async (req, res) => {
    const { portalId } = callerOf(req);
    const query = new URLSearchParams(req.originalUrl.split('?')[1] ?? '');
    const raw = query.getAll('week');
    const rawMonth = query.getAll('month');
    if (raw.length > 1 || rawMonth.length > 1)
      throw new ApiError('invalid_request', 'Ask for one week at a time.');
    const format = query.get('format') ?? 'json';
    if (format !== 'json' && format !== 'csv')
      throw new ApiError('invalid_request', 'The format must be json or csv.');
    if (raw.length > 0 && rawMonth.length > 0)
      throw new ApiError('invalid_request', 'Ask for a week or a month, not both.');
    const now = clock();
    const current = await deps.playbooks.current(portalId);
    const zone = reportingZone(current?.playbook);
    let range;
    try {
      // month=YYYY-MM is the monthly review; "month=" alone asks for the latest complete month.
      range =
        rawMonth.length > 0
          ? monthRange(rawMonth[0] || latestCompleteMonth(now, zone), zone)
          : weekRange(raw[0] ?? latestCompleteWeek(now, zone), zone);
    } catch (err) {
      if (err instanceof WeekError)
        throw new ApiError(
          'invalid_request',
          rawMonth.length > 0
            ? 'The month must be like 2026-11.'
            : 'The week must be an ISO week like 2026-W47.',
        );
      throw err;
    }
    const availableWeeksList = await availableWeeks(portalId, zone, now);
    // Months that may hold data: those of the listed weeks' Mondays and Sundays (browsable like the weeks).
    const availableMonths = [
      ...new Set(
        availableWeeksList.flatMap((w) => {
          const r = weekRange(w, zone);
          return [monthOf(r.start, zone), monthOf(r.end - 1, zone)];
        }),
      ),
    ]
      .filter((m) => m <= monthOf(now, zone))
      .sort()
      .reverse();
    if (!current) {
      const { week, weekStart, weekEnd, timeZone } = range;
      return sendJson(res, {
        week,
        weekStart,
        weekEnd,
        timeZone,
        availableWeeks: availableWeeksList,
        availableMonths,
        byStage: [],
        byRole: [],
      });
    }
    // Deals still in a stage (stuck work, breached in place), from the stored state the what-if also reads. Read
    // alongside the week: that read mostly waits on Redis (a key scan) while the week's decode keeps this process
    // busy, so together they take about the longer of the two instead of their sum.
    // The week's rows are folded chunk by chunk as they are decoded (HistoryWeeks.scorecard): kept whole until the end, the
    // rows outlived the young generation, and the garbage collector copying them took about a quarter of the
    // request in the service's profile.
    const [fold, running] = await Promise.all([
      deps.weeks.scorecard(portalId, current.playbook, range, {
        zone,
        now,
        availableWeeks: availableWeeksList,
      }),
      deps.whatIfData ? deps.whatIfData(portalId, now, 0).then((d) => d.running) : [],
    ]);
    const open = running.flatMap((s) => openVisitOf(s) ?? []);
    const card = { ...fold.result(open), availableMonths };
    // format=csv: the CLI's CSV inside JSON, because hubspot.fetch hands the app home JSON only and the UI kit has
    // no file download; the page shows it in a text area to copy.
    if (format === 'csv')
      return sendJson(res, {
        week: card.week,
        filename: `stagekeeper-scorecard-${card.week}.csv`,
        csv: formatScorecard(card, 'csv'),
      });
    sendJson(res, card);
  });

  return router;
}
