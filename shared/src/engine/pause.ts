import type { Playbook } from '../playbook/schema';
import { P } from '../properties';
import { criterionHolds } from './criteria';
import { Effects, msProp } from './effects';
import { findStage } from './lookup';
import { notePause } from './visit-inputs';
import { clockContext, pauseClock, resumeClock, syncTimers, type ClockContext } from './sla-clock';
import type { Command, DealSnapshot, DealState, SlaClock, StageEntry } from './types';

export function pauseHolds(
  ctx: ClockContext,
  snapshot: DealSnapshot,
  entry: StageEntry,
  now: number,
): boolean {
  return ctx.sla.pauseWhen.some((c) => criterionHolds(c, snapshot, entry.tasks, now));
}

/** The status shown for a clock that is counting: a warned clock stays "warning" until it is met or breached. */
export const runningStatus = (clock: SlaClock) => (clock.warned ? 'warning' : 'running');

/**
 * Pauses the current clock while a pause condition holds and resumes it when none does. Only a clock that is
 * still counting towards its breach pauses; after a breach the remaining escalation levels keep running.
 * The pause starts when the engine sees the condition: time it could not observe counts against the SLA.
 */
export function trackPause(
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
  if (!entry || !clock || !ctx) return;
  const holds = pauseHolds(ctx, snapshot, entry, now);
  notePause(entry, holds, now);
  if (clock.status === 'running' && holds) {
    pauseClock(clock, ctx, Math.max(now, clock.runningSince ?? now));
    fx.decide('sla.paused', `a pause condition of stage "${entry.stage}" holds; timers cancelled`);
    fx.push(...syncTimers(entry.entryId, clock, ctx));
    fx.set({ [P.slaStatus]: 'paused' });
  } else if (clock.status === 'paused' && !holds) {
    const pausedAt = clock.pausedAt ?? now;
    resumeClock(clock, ctx, now);
    fx.decide(
      'sla.resumed',
      `no pause condition holds any more; due moves to ${new Date(clock.dueAt).toISOString()} ` +
        `(originally ${new Date(clock.originalDueAt).toISOString()}, paused since ${new Date(pausedAt).toISOString()})`,
    );
    fx.push(...syncTimers(entry.entryId, clock, ctx), ...moveSlaTask(entry, clock));
    fx.set({
      [P.slaStatus]: runningStatus(clock),
      [P.slaDueAt]: msProp(clock.dueAt),
      [P.slaWarningAt]: msProp(clock.warningAt),
    });
  }
}

/** The SLA task is due at the deadline, so it moves with it (a rep's task list must not show a stale due time). */
export function moveSlaTask(entry: StageEntry, clock: SlaClock): Command[] {
  return entry.tasks
    .filter((t) => t.kind === 'sla')
    .map((t) => ({ type: 'rescheduleTask' as const, key: t.key, dueAt: clock.dueAt }));
}
