import { wallTable, weeklyStaffedMinutes } from '../clock/weekly';
import { formatDuration, parseDuration } from './duration';
import type { Calendar, Stage } from './schema';

/**
 * Business-time targets must be reachable well inside the clock's horizon (HORIZON_DAYS, ~2 years): counted
 * on the calendar's weekly pattern they must fit in 52 weeks, leaving the other year for holidays and DST.
 * A target beyond that would make every due-time computation walk to the horizon and then fail.
 */
export const REACHABLE_WEEKS = 52;

type Path = (string | number)[];
type Report = (path: Path, message: string) => void;

/** Weekday order of the schema (Monday first), given by the caller so this file needs no runtime schema import. */
export function checkReachableTargets(
  stage: Stage,
  at: Path,
  calendars: readonly Calendar[],
  weekdays: readonly (keyof Exclude<Calendar['hours'], '24/7'>)[],
  issue: Report,
): void {
  const calendar = calendars.find((c) => c.id === stage.sla?.calendar);
  if (!calendar) return;
  const hours = calendar.hours;
  const weeklyMin = weeklyStaffedMinutes(
    wallTable(hours === '24/7' ? '24/7' : weekdays.map((d) => hours[d])),
  );
  if (weeklyMin === 0) return; // "needs at least one staffed interval" is reported by the calendar check
  const budgetMs = weeklyMin * 60_000 * REACHABLE_WEEKS;
  const sla = stage.sla!;
  // The last escalation level (or the breach itself) is the furthest point of the window the clock computes.
  const furthestPct = Math.max(100, ...sla.escalations.map((l) => l.at));
  const check = (target: string, business: boolean, path: Path, what: string, pct: number) => {
    const ms = parseDuration(target);
    if (!business || ms === null) return;
    const needed = (ms * pct) / 100;
    if (needed <= budgetMs) return;
    issue(
      path,
      `stage "${stage.id}": ${what} ${target}${pct > 100 ? ` (${pct} % of it for the last escalation: ${formatDuration(needed)})` : ''} ` +
        `cannot be reached on calendar "${calendar.id}", staffed ${formatDuration(weeklyMin * 60_000)} a week: ` +
        `it would take ${Math.ceil(needed / (weeklyMin * 60_000))} weeks, and targets must be reachable within ${REACHABLE_WEEKS} weeks ` +
        `(at most ${formatDuration(budgetMs * (100 / pct))} on this calendar)`,
    );
  };
  check(sla.target, sla.basis === 'business', [...at, 'sla', 'target'], 'the SLA target', furthestPct);
  sla.overrides.forEach((o, oi) =>
    check(
      o.target,
      (o.basis ?? sla.basis) === 'business',
      [...at, 'sla', 'overrides', oi, 'target'],
      `override ${oi}'s target`,
      furthestPct,
    ),
  );
  stage.requiredActions.forEach((t, ti) => {
    if (t.dueAfter !== undefined)
      check(
        t.dueAfter,
        t.basis === 'business',
        [...at, 'requiredActions', ti, 'dueAfter'],
        `task "${t.id}" due after`,
        100,
      );
  });
}
