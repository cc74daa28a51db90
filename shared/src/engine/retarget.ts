import type { Playbook } from '../playbook/schema';
import { formatDuration } from '../playbook/duration';
import { P } from '../properties';
import { Effects, iso, msProp } from './effects';
import { findStage } from './lookup';
import { moveSlaTask } from './pause';
import { chooseTarget, elapsed, refreshTimes, syncTimers, type ClockContext } from './sla-clock';
import type { Command, DealSnapshot, DealState, SlaClock } from './types';
import { clockContext } from './sla-clock';

/**
 * Re-evaluates a live clock's conditional target against the deal as it is now (an urgency raised after entry
 * tightens the clock; lowered, it relaxes). The time already counted stays counted, on the basis it was counted
 * in; the due and warning instants, the timers and the task due time move. A tighter target already used up is
 * due now: nobody can have breached a target before the deal qualified for it. Returns the commands, or null
 * when the target is unchanged. Not sla-clock's `retarget`, which re-bases a clock on an edited playbook from its
 * entry (publish repair, what-if preview); this one counts on from `now`.
 */
export function retargetLive(
  fx: Effects,
  state: DealState,
  id: string,
  label: string,
  clock: SlaClock,
  ctx: ClockContext,
  snapshot: DealSnapshot,
  now: number,
  /** Also follow a new duration under the same rule (a playbook edit); stage clocks leave that to applyPlaybookChange. */
  followEdits = false,
): Command[] | null {
  if (clock.status !== 'running' && clock.status !== 'paused') return null;
  const target = chooseTarget(ctx.sla, snapshot, now);
  // Only a change of the rule that applies is a condition change; a new duration under the same rule is a
  // playbook edit, which applyPlaybookChange recomputes from the entry for stage clocks.
  const edited = followEdits && (target.targetMs !== clock.targetMs || target.basis !== clock.basis);
  if (target.targetRule === clock.targetRule && !edited) return null;
  const before = { targetMs: clock.targetMs, rule: clock.targetRule, dueAt: clock.dueAt };
  // Close the current run at `now` on the old basis, then count on from `now` under the new target.
  if (clock.runningSince !== null) {
    clock.consumedMs += elapsed(clock, ctx, clock.runningSince, Math.max(now, clock.runningSince));
    clock.runningSince = Math.max(now, clock.runningSince);
  } else if (clock.pausedAt !== null) clock.pausedAt = Math.max(now, clock.pausedAt);
  clock.targetMs = target.targetMs;
  clock.basis = target.basis;
  clock.targetRule = target.targetRule;
  clock.consumedMs = Math.min(clock.consumedMs, clock.targetMs);
  refreshTimes(clock, ctx);
  fx.record(
    state,
    now,
    'sla.retargeted',
    `${label}: target ${formatDuration(before.targetMs)} (${before.rule}) -> ${formatDuration(clock.targetMs)} ${clock.basis} ` +
      `(${clock.targetRule}) because ${before.rule === clock.targetRule ? 'the playbook changed' : 'its condition changed'}; ` +
      `due ${iso(before.dueAt)} -> ${iso(clock.dueAt)}`,
  );
  return syncTimers(id, clock, ctx);
}

/** The current stage's clock, re-targeted in place; the SLA task and the written-back instants follow. */
export function retargetStageClock(
  fx: Effects,
  state: DealState,
  playbook: Playbook,
  snapshot: DealSnapshot,
  now: number,
): void {
  const entry = state.current;
  const clock = entry?.sla;
  const ref = entry && findStage(playbook, entry.stage);
  const ctx = ref && clockContext(playbook, ref.stage);
  if (!entry || !clock || !ref || !ctx || state.playbookVersion !== playbook.version) return;
  const commands = retargetLive(fx, state, entry.entryId, ref.stage.label, clock, ctx, snapshot, now);
  if (!commands) return;
  fx.push(...commands, ...moveSlaTask(entry, clock));
  fx.set({ [P.slaDueAt]: msProp(clock.dueAt), [P.slaWarningAt]: msProp(clock.warningAt) });
}
