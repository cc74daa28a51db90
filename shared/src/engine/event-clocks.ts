import { formatDuration } from '../playbook/duration';
import type { ClockTrigger, EventClock, Playbook } from '../playbook/schema';
import { P } from '../properties';
import { inferBreachReason } from './breach';
import { calendarOf } from './calendars';
import { criterionHolds, parseInstant } from './criteria';
import { Effects, iso, msProp } from './effects';
import { findRole } from './lookup';
import { retargetLive } from './retarget';
import {
  cancelAllTimers,
  elapsed,
  pauseClock,
  resumeClock,
  startClock,
  syncTimers,
  type ClockContext,
} from './sla-clock';
import { ownerForRole, workOwner } from './tasks';
import { taskTime, taskZone } from './task-time';
import type { DealSnapshot, DealState, EventClockRun } from './types';

/**
 * Clocks started by events, not by stage entry (seed 000 lines 87-90: support inquiry response <= 1 business
 * hour, refill follow-up on missing inputs <= 24 hours). A run is a stage SLA clock in all but its start: the
 * same SlaClock, timers, pauses, warnings, escalations and breach inference; it belongs to the deal, not to a
 * stage visit, so a stage move does not stop it.
 */

export const runIdOf = (dealId: string, clockId: string, startedAt: number) =>
  `${dealId}:clock.${clockId}:${startedAt}`;

export function eventClockContext(playbook: Playbook, def: EventClock, roleId: string): ClockContext {
  const calendar = calendarOf(playbook, def.sla.calendar);
  return {
    sla: def.sla,
    calendar,
    noticeCalendar: calendarOf(playbook, findRole(playbook, roleId)?.calendar) ?? calendar,
  };
}

/** FNV-1a: enough to tell a changed value from an unchanged one without keeping the value (it may be health data). */
export function fingerprint(raw: string | null | undefined): string | null {
  if (raw === null || raw === undefined || raw.trim() === '') return null;
  let h = 0x811c9dc5;
  for (let i = 0; i < raw.length; i++) {
    h ^= raw.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return `${raw.length.toString(36)}.${h.toString(36)}`;
}

const live = (run: EventClockRun) => run.stoppedAt === null && run.sla.status !== 'cancelled';

function fired(t: ClockTrigger, before: string | null | undefined, now: string | null): boolean {
  if (t.on === 'set') return before === null && now !== null;
  if (t.on === 'cleared') return before !== null && before !== undefined && now === null;
  return now !== null && now !== before;
}

export const watchedProperties = (playbook: Playbook): string[] => [
  ...new Set(playbook.clocks.flatMap((c) => [c.start.property, ...c.stopOn.map((t) => t.property)])),
];

/**
 * Key prefixes of the deal's known runs. Like the current visit's entry id, a run's prefix covers tasks a
 * concurrent decision (a timer firing while a webhook is reconciled) created but this state has not recorded yet.
 */
export function eventClockKeyPrefixes(state: DealState | null): string[] {
  return (state?.clocks ?? []).map((r) => `${r.runId}:`);
}

export function findEventClock(playbook: Playbook, state: DealState, runId: string) {
  const run = (state.clocks ?? []).find((r) => r.runId === runId);
  const def = run && playbook.clocks.find((c) => c.id === run.clockId);
  return run && def ? { run, def, ctx: eventClockContext(playbook, def, run.role) } : undefined;
}

/** Written back so HubSpot views and reports can list deals with an open inquiry or a refill gap. */
export function eventClockSummary(state: DealState): Record<string, string> {
  const open = (state.clocks ?? []).filter(live);
  // A breached run still waiting for its answer keeps its (past) due time: it is the most overdue.
  const dues = open.map((r) => r.sla.dueAt);
  return {
    [P.clocksOpen]: open.map((r) => r.clockId).join(';'),
    [P.clocksDueAt]: msProp(dues.length ? Math.min(...dues) : null),
  };
}

/** Only a changed summary is written: every webhook of a deal must not cost a HubSpot write. */
function writeSummary(fx: Effects, state: DealState, before: Record<string, string>): void {
  const after = eventClockSummary(state);
  if (Object.keys(after).some((k) => after[k] !== before[k])) fx.set(after);
}

function startRun(
  fx: Effects,
  state: DealState,
  playbook: Playbook,
  def: EventClock,
  snapshot: DealSnapshot,
  now: number,
): EventClockRun {
  const raw = snapshot.properties[def.start.property];
  const valueAt = def.startAt === 'value' ? parseInstant(raw) : null;
  // A datetime in the future (a clock skew, a typo) cannot start a clock before anyone could see it.
  const startedAt = valueAt !== null ? Math.min(valueAt, now) : now;
  const role = def.role ?? state.current?.ownerRole ?? playbook.roles[0]!.id;
  const ctx = eventClockContext(playbook, def, role);
  const clock = startClock(ctx, snapshot, startedAt, now);
  const run: EventClockRun = {
    clockId: def.id,
    runId: runIdOf(state.dealId, def.id, startedAt),
    startedAt,
    role,
    sla: clock,
    tasks: [],
    stoppedAt: null,
    breachReason: null,
  };
  if (def.sla.pauseWhen.some((c) => criterionHolds(c, snapshot, [], now)))
    pauseClock(clock, ctx, Math.max(now, startedAt));
  const key = `${run.runId}:sla`;
  run.tasks.push({ key, kind: 'sla' });
  // Reps read the body as it is: times in the clock calendar's zone, in words (the trail keeps ISO instants).
  const zone = taskZone(playbook, clock.calendar);
  fx.push({
    type: 'createTask',
    key,
    kind: 'sla',
    // The due time is the task's own due date in HubSpot; the subject says what and how long.
    subject: `${def.label} (${formatDuration(clock.targetMs)} SLA)`.slice(0, 255),
    body:
      `${def.label}: ${formatDuration(clock.targetMs)} of ${clock.basis === 'business' ? 'staffed' : 'calendar'} time ` +
      `(rule: ${clock.targetRule}), started ${taskTime(startedAt, zone)}, due ${taskTime(clock.dueAt, zone)}.`,
    dueAt: clock.dueAt,
    ownerId: ownerForRole(
      fx,
      playbook,
      role,
      workOwner(state.current, snapshot.ownerId),
      `clock "${def.id}" task`,
    ),
    priority: 'HIGH',
    taskType: 'TODO',
  });
  fx.push(...syncTimers(run.runId, clock, ctx));
  fx.record(
    state,
    now,
    'clock.started',
    `${def.label} started ${iso(startedAt)} (${def.start.property} ${def.start.on}): ` +
      `${formatDuration(clock.targetMs)} ${clock.basis} (${clock.targetRule}), due ${iso(clock.dueAt)}`,
  );
  return run;
}

/** Marks a run breached at its due instant and writes the event-clock breach properties. */
export function breachRun(
  fx: Effects,
  state: DealState,
  def: EventClock,
  run: EventClockRun,
  snapshot: DealSnapshot,
  now: number,
): void {
  const clock = run.sla;
  if (clock.status !== 'running') return;
  clock.status = 'breached';
  clock.breachedAt = clock.dueAt;
  state.breachCount += 1;
  // The evidence a clock has: no stage exit criteria and no visit, so owner and load decide (default rules).
  const inferred = inferBreachReason(undefined, {
    missingExit: [],
    ownerChanges: 0,
    noOwner: !snapshot.ownerId,
    unansweredAttempts: 0,
    ownerOpenTasks: snapshot.ownerOpenTasks,
  });
  run.breachReason = inferred.reason;
  fx.record(
    state,
    now,
    'clock.breached',
    `${def.label} breached at its due time ${iso(clock.dueAt)}; reason ${inferred.reason}`,
  );
  fx.set({
    [P.clockBreach]: def.id,
    [P.clockBreachedAt]: msProp(clock.dueAt),
    [P.clockBreachReason]: inferred.reason,
    [P.breachCount]: String(state.breachCount),
  });
}

function stopRun(
  fx: Effects,
  state: DealState,
  def: EventClock,
  run: EventClockRun,
  ctx: ClockContext,
  snapshot: DealSnapshot,
  now: number,
  why: string,
  cancelled = false,
): void {
  const clock = run.sla;
  // The breach timer may not have run yet: a stop after the due time is a breach all the same, at its due time.
  if (!cancelled && clock.status === 'running' && now >= clock.dueAt)
    breachRun(fx, state, def, run, snapshot, now);
  fx.push(...cancelAllTimers(clock));
  // A breached run keeps counting until its stop: the scorecard reports how long the answer took.
  if (clock.runningSince !== null)
    clock.consumedMs += elapsed(clock, ctx, clock.runningSince, Math.max(now, clock.runningSince));
  clock.runningSince = null;
  if (clock.status === 'running' || clock.status === 'paused') clock.status = cancelled ? 'cancelled' : 'met';
  if (!cancelled) clock.metAt = now;
  run.stoppedAt = now;
  fx.push({
    type: 'recordHistory',
    row: {
      dealId: state.dealId,
      pipeline: state.current?.pipeline ?? '',
      stage: `clock.${def.id}`,
      ownerRole: run.role,
      ownerId: state.lastOwnerId,
      enteredAt: run.startedAt,
      exitedAt: Math.max(now, run.startedAt),
      businessMs: clock.consumedMs,
      toStage: null,
      direction: 'exit',
      slaOutcome: clock.status === 'breached' ? 'breached' : cancelled ? 'cancelled' : 'met',
      breachReason: run.breachReason,
      breachedAt: clock.breachedAt,
      breachReasonSource: run.breachReason ? 'inferred' : null,
      clock: def.id,
    },
  });
  for (const t of run.tasks) {
    if (snapshot.tasks[t.key] === 'COMPLETED') continue;
    if (t.kind === 'sla' && !cancelled) fx.push({ type: 'completeTask', key: t.key });
    else fx.push({ type: 'cancelTask', key: t.key, reason: `${why}; this task no longer applies` });
  }
  fx.record(
    state,
    now,
    cancelled ? 'clock.cancelled' : 'clock.stopped',
    `${def.label} ${cancelled ? 'cancelled' : `stopped (${clock.status})`}: ${why}`,
  );
}

/** Ends every open run (the deal was closed, deleted or left the managed pipelines). */
export function cancelEventClocks(
  fx: Effects,
  state: DealState,
  playbook: Playbook,
  snapshot: DealSnapshot,
  now: number,
  why: string,
  writeBack = true,
): void {
  const before = eventClockSummary(state);
  for (const run of state.clocks ?? []) {
    const def = playbook.clocks.find((c) => c.id === run.clockId);
    if (!live(run)) continue;
    if (!def) {
      fx.push(...cancelAllTimers(run.sla));
      run.sla.status = 'cancelled';
      run.stoppedAt = now;
      continue;
    }
    stopRun(fx, state, def, run, eventClockContext(playbook, def, run.role), snapshot, now, why, true);
  }
  if (writeBack) writeSummary(fx, state, before);
}

/**
 * Starts, stops, pauses and re-targets the deal's event clocks from the snapshot. The first time a deal is seen
 * under a playbook with clocks, the watched properties are only remembered: a value already there says nothing
 * about when it arrived.
 */
export function trackEventClocks(
  fx: Effects,
  state: DealState,
  playbook: Playbook,
  snapshot: DealSnapshot,
  now: number,
): void {
  const runs = state.clocks ?? [];
  if (playbook.clocks.length === 0 && runs.length === 0) return;
  if (state.closedReason !== null || !state.current) {
    cancelEventClocks(fx, state, playbook, snapshot, now, 'the journey is closed');
    return;
  }
  const written = eventClockSummary(state);
  const before = state.watch;
  const seen: Record<string, string | null> = {};
  for (const prop of watchedProperties(playbook)) seen[prop] = fingerprint(snapshot.properties[prop]);
  state.watch = seen;
  // Runs of clocks the playbook no longer has end; their timers would otherwise fire into nothing.
  const kept: EventClockRun[] = [];
  for (const run of runs) {
    if (playbook.clocks.some((c) => c.id === run.clockId)) kept.push(run);
    else if (live(run)) {
      fx.push(...cancelAllTimers(run.sla));
      for (const t of run.tasks)
        if (snapshot.tasks[t.key] !== 'COMPLETED')
          fx.push({ type: 'cancelTask', key: t.key, reason: 'the playbook no longer has this clock' });
      fx.record(
        state,
        now,
        'clock.removed',
        `clock "${run.clockId}" is no longer in the playbook; its run ended`,
      );
    }
  }
  state.clocks = kept;
  if (!before) {
    fx.decide(
      'clock.baseline',
      'first look at the properties event clocks watch: remembered, nothing started',
    );
    writeSummary(fx, state, written);
    return;
  }
  const pipeline = state.current.pipeline;
  for (const def of playbook.clocks) {
    // `pipelines` scopes where a clock starts; a run already counting follows the deal to its next pipeline.
    const startable = !def.pipelines || def.pipelines.includes(pipeline);
    const changed = (t: ClockTrigger) => fired(t, before[t.property], seen[t.property] ?? null);
    const stopEvent = def.stopOn.find(changed);
    const stopHolds = def.stopWhen.find((c) => criterionHolds(c, snapshot, [], now));
    const why = stopEvent
      ? `${stopEvent.property} ${stopEvent.on}`
      : stopHolds
        ? 'its stop condition holds'
        : '';
    let run = state.clocks.find((r) => r.clockId === def.id && live(r));
    let stopUsed = false;
    if (run && (stopEvent || stopHolds)) {
      stopRun(fx, state, def, run, eventClockContext(playbook, def, run.role), snapshot, now, why);
      stopUsed = true;
      run = undefined;
    }
    if (!run && startable && changed(def.start)) {
      if (stopHolds) {
        fx.decide(
          'clock.not_started',
          `${def.label}: ${def.start.property} ${def.start.on}, but its stop condition already holds`,
        );
        continue;
      }
      const started = startRun(fx, state, playbook, def, snapshot, now);
      state.clocks = [...state.clocks.filter((r) => r.clockId !== def.id), started];
      // Start and stop both happened between two reads: the answer came after the question.
      if (stopEvent && !stopUsed)
        stopRun(fx, state, def, started, eventClockContext(playbook, def, started.role), snapshot, now, why);
      continue;
    }
    if (run && changed(def.start))
      fx.decide(
        'clock.already_running',
        `${def.label}: ${def.start.property} changed while the clock runs; it keeps counting from the first event`,
      );
    if (run) followRun(fx, state, playbook, def, run, snapshot, now);
  }
  writeSummary(fx, state, written);
}

/** A running run pauses and resumes like a stage clock, and its conditional target is re-evaluated. */
function followRun(
  fx: Effects,
  state: DealState,
  playbook: Playbook,
  def: EventClock,
  run: EventClockRun,
  snapshot: DealSnapshot,
  now: number,
): void {
  const ctx = eventClockContext(playbook, def, run.role);
  const clock = run.sla;
  const holds = def.sla.pauseWhen.some((c) => criterionHolds(c, snapshot, [], now));
  const moved = (): void => {
    fx.push(...syncTimers(run.runId, clock, ctx));
    for (const t of run.tasks)
      if (t.kind === 'sla') fx.push({ type: 'rescheduleTask', key: t.key, dueAt: clock.dueAt });
  };
  if (clock.status === 'running' && holds) {
    pauseClock(clock, ctx, Math.max(now, clock.runningSince ?? now));
    fx.record(state, now, 'clock.paused', `${def.label} paused: a pause condition holds`);
    fx.push(...syncTimers(run.runId, clock, ctx));
  } else if (clock.status === 'paused' && !holds) {
    resumeClock(clock, ctx, now);
    fx.record(state, now, 'clock.resumed', `${def.label} resumed; due ${iso(clock.dueAt)}`);
    moved();
  }
  const commands = retargetLive(fx, state, run.runId, def.label, clock, ctx, snapshot, now, true);
  if (commands) {
    fx.push(...commands);
    for (const t of run.tasks)
      if (t.kind === 'sla') fx.push({ type: 'rescheduleTask', key: t.key, dueAt: clock.dueAt });
  }
}
