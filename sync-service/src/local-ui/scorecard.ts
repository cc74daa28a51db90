import {
  computeScorecard,
  isoWeekOf,
  openVisitOf,
  reportingZone,
  weekRange,
  type Scorecard,
} from '@stagekeeper/shared';
import { weekStart } from '../state/history-store';
import type { LocalUiSource } from './source';

/**
 * The weekly scorecard for the local page. Unlike the HubSpot app's, it defaults to the current week: a demo's
 * history is minutes old, and the last complete week is empty on a fresh machine.
 */
/** The weeks the page's picker steps to; no `next` past the current week (nothing has happened there yet). */
export type WeekNav = { previous: string; next: string | null; current: string };

export async function localScorecard(
  src: LocalUiSource,
  week?: string,
): Promise<(Scorecard & { weeks: WeekNav }) | null> {
  const now = src.clock();
  const current = await src.playbooks.current(src.portalId);
  if (!current) return null;
  const zone = reportingZone(current.playbook);
  const range = weekRange(week ?? isoWeekOf(now, zone), zone);
  // History is bucketed by UTC week; a local week overlaps at most two of them.
  const buckets = new Set([weekStart(range.start), weekStart(range.end - 1)]);
  const rows = (await Promise.all([...buckets].map((w) => src.history.scanWeek(src.portalId, w)))).flat();
  // The deals still in a stage (in stage now, their age, breached in place), from their stored state.
  const states = await src.states.loadMany(src.portalId, src.dealIds());
  const open = states.flatMap(({ state }) => (state ? (openVisitOf(state) ?? []) : []));
  const card = computeScorecard({
    rows,
    playbook: current.playbook,
    week: range.week,
    zone,
    availableWeeks: [range.week],
    open,
    now,
  });
  const thisWeek = isoWeekOf(now, zone);
  const weeks = {
    previous: isoWeekOf(range.start - 1, zone),
    next: range.end > now ? null : isoWeekOf(range.end, zone),
    current: thisWeek,
  };
  return { ...card, weeks };
}
