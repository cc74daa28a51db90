import { isoWeekOf, openVisitOf, reportingZone, weekRange, type Scorecard } from '@stagekeeper/shared';
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
  // The deals still in a stage (in stage now, their age, breached in place), from their stored state.
  const states = await src.states.loadMany(src.portalId, src.dealIds());
  const open = states.flatMap(({ state }) => (state ? (openVisitOf(state) ?? []) : []));
  const fold = await src.weeks.scorecard(src.portalId, current.playbook, range, {
    zone,
    now,
    availableWeeks: [range.week],
  });
  const card = fold.result(open);
  const thisWeek = isoWeekOf(now, zone);
  const weeks = {
    previous: isoWeekOf(range.start - 1, zone),
    next: range.end > now ? null : isoWeekOf(range.end, zone),
    current: thisWeek,
  };
  return { ...card, weeks };
}
