import { inferBreachReason, type BreachEvidence } from '../engine/breach';
import { criterionLabel } from '../engine/criteria';
import { deliveryTime, pauseClock, pointAt, resumeClock, startClockWith } from '../engine/sla-clock';
import type { HistoryRow, SlaClock } from '../engine/types';
import type { BreachReason } from '../playbook/schema';
import type { PlaybookPlan, StagePlan } from './plan';
import { overrideIndex, unmetCriteria } from './recorded';

export type ReplayOutcome = 'met' | 'breached' | 'none' | 'cancelled' | 'unknown';

/** What one playbook would have decided for one recorded visit; null fields are unknown or not applicable. */
export type VisitReplay = {
  outcome: ReplayOutcome;
  /** The due time on the calendar, after the recorded pauses; null without an SLA or when unknown. */
  dueAt: number | null;
  targetMs: number | null;
  calendar: string | null;
  warned: boolean;
  /** Escalation levels reached. */
  levels: number;
  /** Tasks created: SLA task, required actions, warning, escalation tasks. */
  tasks: number;
  breachReason: BreachReason | 'unknown' | null;
};

const NONE = (tasks: number): VisitReplay => ({
  outcome: 'none',
  dueAt: null,
  targetMs: null,
  calendar: null,
  warned: false,
  levels: 0,
  tasks,
  breachReason: null,
});

const UNKNOWN: VisitReplay = Object.freeze({ ...NONE(0), outcome: 'unknown' as const });

/**
 * Replays a recorded visit under a playbook with the engine's own functions: target choice (targetFor after the
 * same first-match rule), the clock on its calendar (startClockWith, pauseClock, resumeClock), warning and
 * escalation instants (pointAt, deliveryTime) and the breach reason (inferBreachReason). The visit's entry, exit
 * and pause intervals are facts; only the contract changes.
 */
export function replayVisit(row: HistoryRow, plan: PlaybookPlan): VisitReplay {
  const sp = plan.stages.get(row.stage);
  if (!sp) return NONE(0);
  const ctx = sp.ctx;
  if (!ctx) return NONE(sp.entryTasks);
  const inputs = row.inputs;
  const sla = ctx.sla;

  const idx = sla.overrides.length === 0 ? -1 : overrideIndex(sla.overrides, inputs?.entry);
  if (idx === undefined) return UNKNOWN;
  let pauses: readonly (readonly [number, number])[] = [];
  if (sla.pauseWhen.length > 0) {
    // Intervals are known only for the pause conditions that were in force; other conditions were never watched.
    if (!inputs || inputs.pauseKey !== sp.pauseKey) return UNKNOWN;
    pauses = inputs.pauses;
  }

  const enteredAt = row.enteredAt;
  const exitAt = Math.max(row.exitedAt, enteredAt);
  const cancelled = row.slaOutcome === 'cancelled';
  const clock = startClockWith(ctx, sp.targets[idx + 1]!, enteredAt);
  const st = { warned: false, breachedAt: null as number | null, levels: 0, tasks: sp.entryTasks };

  let pausedAtExit = false;
  for (const [from, to] of pauses) {
    const ps = Math.max(from, enteredAt);
    if (ps >= exitAt) break;
    settle(clock, sp, st, ps, true);
    // A breached clock keeps running towards its later escalation levels: pauses no longer apply.
    if (st.breachedAt !== null) break;
    pauseClock(clock, ctx, ps);
    if (to >= exitAt) {
      pausedAtExit = true;
      break;
    }
    resumeClock(clock, ctx, to);
  }
  if (!pausedAtExit) settle(clock, sp, st, exitAt, !cancelled);

  const outcome: ReplayOutcome = st.breachedAt !== null ? 'breached' : cancelled ? 'cancelled' : 'met';
  return {
    outcome,
    dueAt: clock.dueAt,
    targetMs: clock.targetMs,
    calendar: clock.basis === 'business' ? (clock.calendar ?? null) : null,
    warned: st.warned,
    levels: st.levels,
    tasks: st.tasks,
    breachReason: st.breachedAt !== null ? breachReasonOf(row, sp, st.breachedAt) : null,
  };
}

type Progress = { warned: boolean; breachedAt: number | null; levels: number; tasks: number };

/**
 * What the clock's timers do while it runs up to `end` (a pause or the exit). `breachAtEnd`: the engine
 * treats leaving at or after the due time as a breach (exitStage), and a pause starting at the due instant loses
 * the race to the breach timer.
 */
function settle(clock: SlaClock, sp: StagePlan, st: Progress, end: number, breachAtEnd: boolean): void {
  const ctx = sp.ctx!;
  if (st.breachedAt === null) {
    if (!st.warned && clock.warningAt < end) {
      st.warned = true;
      // The engine skips the warning task when the notice would land at or after the due time.
      if (clock.warningAt < clock.dueAt) st.tasks++;
    }
    if (clock.dueAt < end || (breachAtEnd && clock.dueAt <= end)) st.breachedAt = clock.dueAt;
  }
  // Levels are in increasing order of "at" and their instants grow with it, so the fired ones are a prefix.
  const levels = ctx.sla.escalations;
  while (st.levels < levels.length) {
    const level = levels[st.levels]!;
    // A level at or past 100 % cannot fire while the clock has not reached its due time.
    if (level.at >= 100 && st.breachedAt === null) break;
    if (deliveryTime(ctx, pointAt(clock, ctx, level.at)) >= end) break;
    st.tasks += sp.levelTasks[st.levels]!;
    st.levels++;
  }
}

/**
 * The engine infers the reason at breach time; owner changes are recorded with their instants so those before
 * this playbook's breach count. The other evidence is as it stood at exit (the closest instant recorded).
 */
function breachReasonOf(row: HistoryRow, sp: StagePlan, breachedAt: number): BreachReason | 'unknown' {
  // A reason a rep set by hand is never replaced by inference.
  if (row.breachReasonSource === 'manual' && row.breachReason) return row.breachReason;
  const e = row.inputs?.evidence;
  if (!e) return 'unknown';
  const unmet = unmetCriteria(sp.stage.exitCriteria, row.inputs?.exit);
  const ownerChanges = e.ownerChangesAt ? e.ownerChangesAt.filter((t) => t < breachedAt).length : e.ownerChanges;
  const base: BreachEvidence = {
    missingExit: [],
    ownerChanges,
    noOwner: e.noOwner,
    unansweredAttempts: e.unansweredAttempts,
    ownerOpenTasks: e.ownerOpenTasks,
  };
  if (unmet) return inferBreachReason(sp.stage, { ...base, missingExit: unmet.map(criterionLabel) }).reason;
  // The exit criteria's truth is unknown: the reason is known only when it does not depend on it.
  const without = inferBreachReason(sp.stage, base).reason;
  const withMissing = inferBreachReason(sp.stage, { ...base, missingExit: ['unknown'] }).reason;
  return without === withMissing ? without : 'unknown';
}
