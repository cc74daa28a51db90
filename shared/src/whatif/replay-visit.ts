import { inferBreachReason, type BreachEvidence } from '../engine/breach';
import { ownerOutsideRole } from '../engine/breach-evidence';
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
  /** The owner got a warning task (a warning that would land at or after the due time gives none). */
  warned: boolean;
  /** Escalation levels reached. */
  levels: number;
  /** Tasks created: SLA task, required actions, warning, escalation tasks. */
  tasks: number;
  breachReason: BreachReason | 'unknown' | null;
};

export const blankReplay = (): VisitReplay => ({
  outcome: 'none',
  dueAt: null,
  targetMs: null,
  calendar: null,
  warned: false,
  levels: 0,
  tasks: 0,
  breachReason: null,
});

function none(out: VisitReplay, outcome: 'none' | 'unknown', tasks: number): VisitReplay {
  out.outcome = outcome;
  out.dueAt = null;
  out.targetMs = null;
  out.calendar = null;
  out.warned = false;
  out.levels = 0;
  out.tasks = tasks;
  out.breachReason = null;
  return out;
}

/**
 * Replays a recorded visit under a playbook with the engine's own functions: target choice (targetFor after the
 * same first-match rule), the clock on its calendar (startClockWith, pauseClock, resumeClock), warning and
 * escalation instants (pointAt, deliveryTime) and the breach reason (inferBreachReason). The visit's entry, exit
 * and pause intervals are facts; only the contract changes. `out` is filled and returned, so a loop over a million
 * visits can reuse one object per playbook.
 */
export function replayVisit(
  row: HistoryRow,
  plan: PlaybookPlan,
  out: VisitReplay = blankReplay(),
): VisitReplay {
  const sp = plan.stages.get(row.stage);
  if (!sp) return none(out, 'none', 0);
  const ctx = sp.ctx;
  if (!ctx) return none(out, 'none', sp.entryTasks);
  const inputs = row.inputs;
  const sla = ctx.sla;

  const idx = sla.overrides.length === 0 ? -1 : overrideIndex(sla.overrides, inputs?.entry);
  if (idx === undefined) return none(out, 'unknown', 0);
  let pauses: readonly (readonly [number, number])[] = [];
  if (sla.pauseWhen.length > 0) {
    // Intervals are known only for the pause conditions that were in force; other conditions were never watched.
    if (!inputs || inputs.pauseKey !== sp.pauseKey) return none(out, 'unknown', 0);
    pauses = inputs.pauses;
  }

  const enteredAt = row.enteredAt;
  const exitAt = Math.max(row.exitedAt, enteredAt);
  // Only closeOut (deal deleted, merged or out of the managed pipelines) ends a visit without a next stage; nothing
  // was achieved there, so leaving is no breach of its own (exitStage's "cancelled" mode).
  const cancelled = row.toStage === null;
  const clock = startClockWith(ctx, sp.targets[idx + 1]!, enteredAt);
  const st = progress;
  st.warningDone = false;
  st.warned = false;
  st.breachedAt = null;
  st.levels = 0;
  st.tasks = sp.entryTasks;

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
  out.outcome = outcome;
  out.dueAt = clock.dueAt;
  out.targetMs = clock.targetMs;
  out.calendar = clock.basis === 'business' ? (clock.calendar ?? null) : null;
  out.warned = st.warned;
  out.levels = st.levels;
  out.tasks = st.tasks;
  out.breachReason = st.breachedAt !== null ? breachReasonOf(row, plan, sp, st.breachedAt) : null;
  return out;
}

/** warningDone: the warning timer has fired (or was skipped); warned: it gave the owner a warning task. */
type Progress = {
  warningDone: boolean;
  warned: boolean;
  breachedAt: number | null;
  levels: number;
  tasks: number;
};
// One scratch record: replayVisit is synchronous and not re-entrant, so it never holds two at once.
const progress: Progress = { warningDone: false, warned: false, breachedAt: null, levels: 0, tasks: 0 };

/**
 * What the clock's timers do while it runs up to `end` (a pause or the exit). `breachAtEnd`: the engine
 * treats leaving at or after the due time as a breach (exitStage), and a pause starting at the due instant loses
 * the race to the breach timer.
 */
function settle(clock: SlaClock, sp: StagePlan, st: Progress, end: number, breachAtEnd: boolean): void {
  const ctx = sp.ctx!;
  if (st.breachedAt === null) {
    if (!st.warningDone && clock.warningAt < end) {
      st.warningDone = true;
      // The engine skips the warning task when the notice would land at or after the due time.
      if (clock.warningAt < clock.dueAt) {
        st.warned = true;
        st.tasks++;
      }
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
 * The evidence handed to inferBreachReason, one record reused: replayVisit is synchronous and not re-entrant,
 * and inferBreachReason keeps nothing of it (it returns new label arrays). Half the visits of a replay breach;
 * building evidence objects, case lists and a set for each of them was about a fifth of the replay's profile.
 */
const evidence: BreachEvidence = {
  missingExit: [],
  missingData: [],
  pendingActions: [],
  ownerChanges: 0,
  noOwner: false,
  ownerOutsideRole: undefined,
  unansweredAttempts: 0,
  ownerOpenTasks: undefined,
  capacityThreshold: undefined,
};
// Shared, never written: inferBreachReason only reads these lists.
const NONE: string[] = [];
const UNKNOWN_EXIT: string[] = ['unknown'];
const EITHER_MEMBERSHIP = [true, false] as const;

/**
 * The engine infers the reason at breach time; owner changes are recorded with their instants so those before
 * this playbook's breach count. The other evidence is as it stood at exit (the closest instant recorded).
 */
function breachReasonOf(
  row: HistoryRow,
  plan: PlaybookPlan,
  sp: StagePlan,
  breachedAt: number,
): BreachReason | 'unknown' {
  // A reason a rep set by hand is never replaced by inference.
  if (row.breachReasonSource === 'manual' && row.breachReason) return row.breachReason;
  const e = row.inputs?.evidence;
  if (!e) return 'unknown';
  const unmet = unmetCriteria(sp.stage.exitCriteria, row.inputs?.exit);
  let ownerChanges = e.ownerChanges;
  // The recorded owner is the one at exit. When it changed after the breach, the breach's own record says whether
  // the owner then was outside the role (under the playbook in force); without that record it is left open and
  // only a reason that does not depend on it is given.
  let changedAfter = e.ownerChanges > 0;
  if (e.ownerChangesAt) {
    ownerChanges = 0;
    changedAfter = false;
    for (const t of e.ownerChangesAt) {
      if (t < breachedAt) ownerChanges++;
      // Both tests, as the filter and some() they replace: an instant neither before nor after counts for neither.
      else if (t >= breachedAt) changedAfter = true;
    }
  }
  // The role, its capacity threshold and the reason rules are the replayed playbook's (a draft may change them);
  // the owner is the recorded one, so "owner outside the role" follows the draft's membership.
  const role = sp.role;
  const atBreach = row.breachFacts?.ownerOutsideRole ?? undefined;
  const outside = changedAfter ? atBreach : ownerOutsideRole(role, row.ownerId);
  const open = changedAfter && atBreach === undefined;
  const ev = evidence;
  ev.ownerChanges = ownerChanges;
  ev.noOwner = e.noOwner;
  ev.unansweredAttempts = e.unansweredAttempts;
  ev.ownerOpenTasks = e.ownerOpenTasks;
  ev.capacityThreshold = role?.capacity ? role.capacity.openTasks : undefined;
  let missingData = NONE;
  let pendingActions = NONE;
  let missingExit = NONE;
  if (unmet && unmet.length > 0) {
    // An action not yet done (taskDone) is no missing data, as the engine tells them apart at the breach.
    missingData = unmet.filter((c) => c.op !== 'taskDone').map(criterionLabel);
    pendingActions = unmet.filter((c) => c.op === 'taskDone').map(criterionLabel);
    missingExit = [...missingData, ...pendingActions];
  }
  const rules = plan.playbook.breachRules;
  // Every way the unknowns could have been (the owner's membership when it changed after the breach; the exit
  // criteria's truth when not recorded): the reason is known only when they all agree.
  let reason: BreachReason | undefined;
  const memberships = open && role && row.ownerId ? EITHER_MEMBERSHIP : [outside];
  for (const m of memberships) {
    // Known exit criteria: one case; unknown: none unmet, or data missing.
    for (let k = unmet ? 1 : 0; k < 2; k++) {
      ev.ownerOutsideRole = m;
      ev.missingExit = k === 0 ? UNKNOWN_EXIT : missingExit;
      ev.missingData = k === 0 ? UNKNOWN_EXIT : missingData;
      ev.pendingActions = pendingActions;
      const r = inferBreachReason(sp.stage, ev, rules).reason;
      if (reason === undefined) reason = r;
      else if (r !== reason) return 'unknown';
    }
  }
  return reason!;
}
