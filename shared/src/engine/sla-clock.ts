import { addBusinessTime, businessTimeBetween, isOpen, nextOpen, type CompiledCalendar } from '../clock';
import { parseDuration } from '../playbook/duration';
import type { Playbook, Sla, Stage } from '../playbook/schema';
import { calendarOf } from './calendars';
import { evaluateCriteria } from './criteria';
import { findRole } from './lookup';
import type { Command, DealSnapshot, SlaClock } from './types';
import { timerId, type TimerKind } from './timer-id';

/** What a clock needs from the playbook: its SLA, the calendar it counts on, and where notices are delivered. */
export type ClockContext = {
  sla: Sla;
  calendar: CompiledCalendar | undefined;
  /** The stage role's calendar, else the SLA's: a warning is only useful when someone is there to read it. */
  noticeCalendar: CompiledCalendar | undefined;
};

export function clockContext(playbook: Playbook, stage: Stage): ClockContext | undefined {
  const sla = stage.sla;
  if (!sla) return undefined;
  const role = findRole(playbook, stage.ownerRole);
  const calendar = calendarOf(playbook, sla.calendar);
  return { sla, calendar, noticeCalendar: calendarOf(playbook, role?.calendar) ?? calendar };
}

/** The first override whose criteria all hold wins; the rule name is kept so the card can say why. */
export function chooseTarget(
  sla: Sla,
  snapshot: DealSnapshot,
  now: number,
): { targetMs: number; basis: 'business' | 'calendar'; targetRule: string } {
  return targetFor(
    sla,
    sla.overrides.findIndex((o) => evaluateCriteria(o.when, snapshot, [], now).met),
  );
}

export type ChosenTarget = { targetMs: number; basis: 'business' | 'calendar'; targetRule: string };

/** The target of override `i` (-1: the default), for callers that decided which override holds themselves. */
export function targetFor(sla: Sla, i: number): ChosenTarget {
  const override = i >= 0 ? sla.overrides[i] : undefined;
  const target = override?.target ?? sla.target;
  // The schema has already rejected unparseable durations; this guards state built from an unchecked object.
  const targetMs = parseDuration(target);
  if (targetMs === null) throw new Error(`invalid SLA target "${target}"`);
  return {
    targetMs,
    basis: override?.basis ?? sla.basis,
    targetRule: override ? `overrides[${i}]` : 'default',
  };
}

function usesBusinessTime(
  clock: SlaClock,
  ctx: ClockContext,
): ctx is ClockContext & { calendar: CompiledCalendar } {
  return clock.basis === 'business' && ctx.calendar !== undefined;
}

/** Basis time between two instants: staffed time for a business clock, plain time otherwise. */
export function elapsed(clock: SlaClock, ctx: ClockContext, from: number, to: number): number {
  if (to <= from) return 0;
  return usesBusinessTime(clock, ctx) ? businessTimeBetween(ctx.calendar, from, to) : to - from;
}

function advance(clock: SlaClock, ctx: ClockContext, start: number, ms: number): number {
  return usesBusinessTime(clock, ctx) ? addBusinessTime(ctx.calendar, start, ms) : start + ms;
}

/**
 * The instant the running clock reaches `pct` % of its target. Percentages are of basis time, so a 75 % warning
 * on an 8-staffed-hour SLA comes after 6 staffed hours, not at 75 % of the wall-clock span to the due time.
 * A point already consumed (e.g. a shorter target after a playbook change) is "now-ish": the run's start.
 */
export function pointAt(clock: SlaClock, ctx: ClockContext, pct: number): number {
  const start = clock.runningSince ?? clock.pausedAt;
  if (start === null) throw new Error('pointAt needs a clock that has started');
  const remaining = (clock.targetMs * pct) / 100 - clock.consumedMs;
  return remaining <= 0 ? start : advance(clock, ctx, start, remaining);
}

/** Notices (warnings, escalations) that would land while nobody is staffed wait for the next staffed minute. */
export function deliveryTime(ctx: ClockContext, at: number): number {
  const cal = ctx.noticeCalendar;
  if (!ctx.sla.noticesInStaffedHours || !cal || isOpen(cal, at)) return at;
  return nextOpen(cal, at);
}

/**
 * Recomputes due and warning instants from the current run. A paused clock is projected as if it resumed at
 * the instant it paused, which is what the card shows as "due, plus however long the pause lasts".
 */
export function refreshTimes(clock: SlaClock, ctx: ClockContext): void {
  if (clock.runningSince === null && clock.pausedAt === null) return;
  clock.dueAt = pointAt(clock, ctx, 100);
  clock.warningAt = deliveryTime(ctx, pointAt(clock, ctx, ctx.sla.warningAt));
}

/**
 * Puts a running or paused clock on a new target (the repair of a playbook change), keeping the basis time it has
 * consumed; also what the what-if repair preview applies.
 */
export function retarget(clock: SlaClock, ctx: ClockContext, target: ChosenTarget, enteredAt: number): void {
  clock.targetMs = target.targetMs;
  clock.basis = target.basis;
  clock.targetRule = target.targetRule;
  clock.calendar = ctx.sla.calendar;
  clock.levelsFired = clock.levelsFired.filter((i) => i < ctx.sla.escalations.length);
  // The original due time is what the new rule would have said at entry, with no pause.
  const unpaused = { ...clock, consumedMs: 0, runningSince: enteredAt, pausedAt: null };
  clock.originalDueAt = pointAt(unpaused, ctx, 100);
  refreshTimes(clock, ctx);
}

export function startClock(
  ctx: ClockContext,
  snapshot: DealSnapshot,
  enteredAt: number,
  now: number,
): SlaClock {
  return startClockWith(ctx, chooseTarget(ctx.sla, snapshot, now), enteredAt);
}

/** A clock running from `enteredAt` towards a target already chosen. */
export function startClockWith(
  ctx: ClockContext,
  { targetMs, basis, targetRule }: ChosenTarget,
  enteredAt: number,
): SlaClock {
  const clock: SlaClock = {
    basis,
    calendar: ctx.sla.calendar,
    targetMs,
    targetRule,
    status: 'running',
    originalDueAt: 0,
    dueAt: 0,
    warningAt: 0,
    consumedMs: 0,
    runningSince: enteredAt,
    pausedAt: null,
    warned: false,
    breachedAt: null,
    levelsFired: [],
    metAt: null,
  };
  refreshTimes(clock, ctx);
  clock.originalDueAt = clock.dueAt;
  return clock;
}

export function pauseClock(clock: SlaClock, ctx: ClockContext, at: number): void {
  if (clock.runningSince === null) return;
  clock.consumedMs += elapsed(clock, ctx, clock.runningSince, at);
  clock.runningSince = null;
  clock.pausedAt = at;
  clock.status = 'paused';
}

/** Resuming starts a new run: the due time moves by exactly the basis time spent paused. */
export function resumeClock(clock: SlaClock, ctx: ClockContext, at: number): void {
  if (clock.status !== 'paused') return;
  clock.runningSince = Math.max(at, clock.pausedAt ?? at);
  clock.pausedAt = null;
  clock.status = 'running';
  refreshTimes(clock, ctx);
}

// ---------------------------------------------------------------------------------------------------------
// Timers

export type PlannedTimer = { timerId: string; kind: TimerKind; level?: number; fireAt: number };

/**
 * Timers a clock should have scheduled right now: those not yet fired. A paused, met or cancelled clock has
 * none; a breached one keeps its later escalation levels (e.g. reassign at 150 %).
 */
export function plannedTimers(
  entryId: string,
  clock: SlaClock | null,
  ctx: ClockContext | undefined,
): PlannedTimer[] {
  if (!clock || !ctx || clock.runningSince === null) return [];
  if (clock.status !== 'running' && clock.status !== 'breached') return [];
  const timers: PlannedTimer[] = [];
  if (clock.status === 'running') {
    if (!clock.warned)
      timers.push({ timerId: timerId(entryId, 'warning'), kind: 'warning', fireAt: clock.warningAt });
    timers.push({ timerId: timerId(entryId, 'breach'), kind: 'breach', fireAt: clock.dueAt });
  }
  ctx.sla.escalations.forEach((level, i) => {
    if (clock.levelsFired.includes(i)) return;
    timers.push({
      timerId: timerId(entryId, 'escalation', i),
      kind: 'escalation',
      level: i,
      // A level that pages "now" acts at its moment; the others wait for someone staffed to read them.
      fireAt: level.page?.now
        ? pointAt(clock, ctx, level.at)
        : deliveryTime(ctx, pointAt(clock, ctx, level.at)),
    });
  });
  return timers;
}

/**
 * Brings the scheduled timers in line with the clock: cancels what no longer applies, (re)schedules what is
 * new or moved (same id, so the scheduler replaces the job), and emits nothing when nothing changed.
 */
export function syncTimers(
  entryId: string,
  clock: SlaClock | null,
  ctx: ClockContext | undefined,
): Command[] {
  if (!clock) return [];
  const planned = plannedTimers(entryId, clock, ctx);
  const current = clock.timers ?? [];
  const commands: Command[] = [];
  for (const t of current)
    if (!planned.some((p) => p.timerId === t.timerId))
      commands.push({ type: 'cancelTimer', timerId: t.timerId });
  for (const p of planned) {
    if (current.some((t) => t.timerId === p.timerId && t.fireAt === p.fireAt)) continue;
    commands.push({
      type: 'scheduleTimer',
      timerId: p.timerId,
      kind: p.kind,
      ...(p.level !== undefined ? { level: p.level } : {}),
      entryId,
      fireAt: p.fireAt,
    });
  }
  clock.timers = planned.map((p) => ({ timerId: p.timerId, fireAt: p.fireAt }));
  return commands;
}

/** Cancels every timer the clock still has scheduled (the entry is over). */
export function cancelAllTimers(clock: SlaClock | null): Command[] {
  if (!clock) return [];
  const commands = (clock.timers ?? []).map((t) => ({ type: 'cancelTimer' as const, timerId: t.timerId }));
  clock.timers = [];
  return commands;
}

/** A fired timer is no longer scheduled; it must not be cancelled or counted again. */
export function forgetTimer(clock: SlaClock, id: string): void {
  clock.timers = (clock.timers ?? []).filter((t) => t.timerId !== id);
}
