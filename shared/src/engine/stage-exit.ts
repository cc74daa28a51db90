import { businessTimeBetween } from '../clock';
import type { Playbook } from '../playbook/schema';
import { applyBreach } from './breach';
import { calendarOf } from './calendars';
import { Effects, iso } from './effects';
import { findStage } from './lookup';
import { P } from '../properties';
import { cancelAllTimers, clockContext, elapsed } from './sla-clock';
import { slaTaskKey } from './tasks';
import type { DealSnapshot, DealState, HistoryRow, StageEntry } from './types';
import { TOKEN, visitInputs } from './visit-inputs';

export type ExitMode =
  /** The deal moved on (another stage, a closed stage): the stage's work counts as done. */
  | 'left'
  /** The deal was deleted, merged or left the managed pipelines: nothing was achieved, nothing is owed. */
  | 'cancelled';

/**
 * Ends the current visit: settles the clock, completes or cancels its tasks, cancels its timers and emits the
 * history row. `exitAt` is when HubSpot says the deal entered the next stage, so time-in-stage does not include
 * our own latency.
 */
export function exitStage(
  fx: Effects,
  state: DealState,
  playbook: Playbook,
  snapshot: DealSnapshot,
  exitAt: number,
  toStage: string | null,
  direction: HistoryRow['direction'],
  mode: ExitMode,
  why: string,
  now: number,
): HistoryRow['slaOutcome'] {
  const entry = state.current;
  if (!entry) return 'none';
  const at = Math.max(exitAt, entry.enteredAt);
  const ref = findStage(playbook, entry.stage);
  const label = ref?.stage.label ?? entry.stage;
  const clock = entry.sla;
  const ctx = ref && clockContext(playbook, ref.stage);
  // What decided the visit, for what-if replays (taken before the clock is settled; it reads none of it).
  const inputs = visitInputs(playbook, ref?.stage, entry, snapshot, at, now);

  // The breach timer may not have fired yet (queue lag, a missed job): leaving after the due time is a breach
  // all the same, at its due time.
  if (clock && mode === 'left' && clock.status === 'running' && at >= clock.dueAt) {
    fx.decide(
      'breach.detected_at_exit',
      `"${label}" was left at ${iso(at)}, after its due time ${iso(clock.dueAt)}`,
    );
    applyBreach(fx, state, playbook, ref?.stage, snapshot, clock.dueAt, now);
  }
  fx.push(...cancelAllTimers(clock));

  let outcome: HistoryRow['slaOutcome'] = 'none';
  if (clock) {
    if (clock.status === 'breached') outcome = 'breached';
    else if (clock.status === 'running' || clock.status === 'paused') {
      if (ctx && clock.runningSince !== null) clock.consumedMs += elapsed(clock, ctx, clock.runningSince, at);
      clock.runningSince = null;
      clock.status = mode === 'left' ? 'met' : 'cancelled';
      outcome = mode === 'left' ? 'met' : 'cancelled';
    } else outcome = clock.status === 'met' ? 'met' : 'cancelled';
    if (outcome === 'met' || outcome === 'breached') clock.metAt = at;
  }

  for (const task of entry.tasks) {
    if (snapshot.tasks[task.key] === 'COMPLETED') continue;
    const fulfilled =
      (task.key === slaTaskKey(entry.entryId) && outcome === 'met') ||
      // A forward move passed the gate, so what the remediation task asked for is now there.
      (task.kind === 'remediation' && mode === 'left' && direction === 'forward');
    if (fulfilled) fx.push({ type: 'completeTask', key: task.key });
    else
      fx.push({
        type: 'cancelTask',
        key: task.key,
        reason:
          task.kind === 'sla' && outcome === 'breached'
            ? `${why}; the stage SLA had already breached at ${iso(clock?.breachedAt ?? at)}`
            : `${why}; this task no longer applies`,
      });
  }

  // Time in stage counts the way the stage's SLA does: staffed time for a business-time stage, wall time for a
  // calendar-time stage (a "8d" cadence stage took days, not the staffed hours inside them) or one without an SLA.
  const basis = clock?.basis ?? ref?.stage.sla?.basis;
  const calendar =
    basis === 'business' ? calendarOf(playbook, clock?.calendar ?? ref?.stage.sla?.calendar) : undefined;
  fx.push({
    type: 'recordHistory',
    row: {
      dealId: state.dealId,
      pipeline: entry.pipeline,
      stage: entry.stage,
      ownerRole: entry.ownerRole,
      ownerId: state.lastOwnerId,
      enteredAt: entry.enteredAt,
      exitedAt: at,
      businessMs: calendar ? businessTimeBetween(calendar, entry.enteredAt, at) : at - entry.enteredAt,
      toStage,
      direction,
      slaOutcome: outcome,
      breachReason: entry.breachReason,
      breachedAt: entry.sla?.breachedAt ?? null,
      breachReasonSource: entry.breachReasonSource,
      ...(outcome === 'breached' ? breachRecord(entry) : {}),
      ...dimensionsOf(playbook, snapshot),
      ...closureOf(playbook, toStage, snapshot),
      ...(inputs ? { inputs } : {}),
    },
  });
  fx.decide('exit', `left "${label}" (${direction}, SLA ${outcome}): ${why}`);
  return outcome;
}

/** The breach's evidence, carried onto the history row so the card and scorecard show it after the visit ends. */
function breachRecord(entry: StageEntry): Partial<HistoryRow> {
  return {
    breachEvidence: [...entry.breachEvidence],
    ...(entry.breachFacts ? { breachFacts: entry.breachFacts } : {}),
    ...(entry.inferredReason !== undefined ? { inferredReason: entry.inferredReason } : {}),
  };
}

/** 003's closure reason, for a move into a closed stage that takes one: an enumeration value of the playbook, never free text. */
function closureOf(playbook: Playbook, toStage: string | null, snapshot: DealSnapshot): Partial<HistoryRow> {
  const reasons = findStage(playbook, toStage)?.stage.closureReasons;
  const v = snapshot.properties[P.closureReason];
  return reasons && v && (reasons as readonly string[]).includes(v) ? { closureReason: v } : {};
}

/** Dimension values as short tokens only (an enumeration value or an id): free text never gets into a row. */
function dimensionsOf(playbook: Playbook, snapshot: DealSnapshot): Partial<HistoryRow> {
  const declared = playbook.scorecard?.dimensions ?? [];
  if (declared.length === 0) return {};
  const dims: Record<string, string> = {};
  for (const d of declared) {
    const v = snapshot.properties[d.property];
    if (v && TOKEN.test(v)) dims[d.property] = v;
  }
  return { dims };
}
