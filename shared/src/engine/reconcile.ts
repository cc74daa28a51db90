import type { Playbook } from '../playbook/schema';
import { P } from '../properties';
import { closeOut } from './closure';
import { recordedClosureReason } from './closure-reason';
import { parseNumber } from './criteria';
import { Effects, iso } from './effects';
import { blockMove, CLEAR_GATE, gateMissing, moveKind } from './gate';
import { findManagedStage, findStage, type StageRef } from './lookup';
import { trackOwner } from './owner';
import { trackPause } from './pause';
import { applyPlaybookChange } from './playbook-change';
import { enterStage } from './stage-entry';
import { exitStage } from './stage-exit';
import type { DealSnapshot, DealState, EngineResult, HistoryRow, RoutingInput } from './types';
import { eventClockKeyPrefixes, trackEventClocks } from './event-clocks';
import { retargetStageClock } from './retarget';
import { adoptMerges, clearMergeFills, mergedIdsOf } from './merges';
import { restoredState, wasRestored } from './restore';

export type ReconcileInput = {
  playbook: Playbook;
  state: DealState | null;
  snapshot: DealSnapshot;
  now: number;
  /** Round-robin cursors and open-task counts for the assignment policy; absent: cursors at 0, counts asked for. */
  routing?: RoutingInput;
};

/**
 * A deal seen for the first time (or whose stored state was lost). Counters restart from what Stagekeeper last
 * wrote to HubSpot, so losing Redis does not reset a deal's breach and backflow history.
 */
function freshState(playbook: Playbook, snapshot: DealSnapshot): DealState {
  const merged = mergedIdsOf(snapshot);
  return {
    dealId: snapshot.dealId,
    playbookVersion: playbook.version,
    current: null,
    lastOwnerId: snapshot.ownerId,
    breachCount: parseNumber(snapshot.properties[P.breachCount]) ?? 0,
    backflowCount: parseNumber(snapshot.properties[P.backflowCount]) ?? 0,
    gate: { ...CLEAR_GATE },
    closedReason: null,
    seenEnteredAt: null,
    lastBreachEntryId: null,
    // Its first visit writes every current-visit property, so a merge from before it is not one to undo.
    ...(merged.length > 0 ? { mergedIds: merged } : {}),
  };
}

/** A deal's current-stage entry time only grows, so an older one comes from a stale read or a late replay. */
function isStale(state: DealState, snapshot: DealSnapshot): boolean {
  const at = snapshot.stageEnteredAt;
  const seen = state.seenEnteredAt ?? null;
  if (at === null || seen === null || at >= seen) return false;
  // Exception: the visit we opened at `now` because HubSpot had no entry time yet, now reported for real.
  const cur = state.current;
  return !(cur && cur.enteredAtSource === 'now' && cur.stage === snapshot.stage && at <= cur.enteredAt);
}

/** Whether the snapshot still shows the visit the state holds (including HubSpot's echo of our own revert). */
function isSameVisit(state: DealState, snapshot: DealSnapshot): boolean {
  const cur = state.current;
  if (!cur || cur.stage !== snapshot.stage || cur.pipeline !== snapshot.pipeline) return false;
  const at = snapshot.stageEnteredAt;
  if (at === null || at === cur.enteredAt || (cur.aliasEnteredAt ?? []).includes(at)) return true;
  if (state.gate.pendingStage === cur.stage && at > cur.enteredAt) return true;
  return cur.enteredAtSource === 'now' && at <= cur.enteredAt;
}

function sameVisit(
  fx: Effects,
  state: DealState,
  playbook: Playbook,
  snapshot: DealSnapshot,
  now: number,
): void {
  const cur = state.current!;
  const at = snapshot.stageEnteredAt;
  if (at !== null && at !== cur.enteredAt && !(cur.aliasEnteredAt ?? []).includes(at)) {
    cur.aliasEnteredAt = [...(cur.aliasEnteredAt ?? []), at];
    if (state.gate.pendingStage === cur.stage) {
      state.gate = { ...state.gate, pendingStage: null };
      fx.decide(
        'gate.echo',
        `HubSpot shows the deal back in "${cur.stage}" (entered ${iso(at)}) after our gate move; ` +
          `the visit that began ${iso(cur.enteredAt)} and its clock continue`,
      );
    } else {
      fx.decide(
        'entry.time_reported',
        `HubSpot now reports ${iso(at)} for the visit first seen without an entry time`,
      );
    }
  }
  trackOwner(fx, state, playbook, snapshot, now);
  trackPause(fx, state, playbook, snapshot, now);
  retargetStageClock(fx, state, playbook, snapshot, now);
}

function transition(
  fx: Effects,
  state: DealState,
  playbook: Playbook,
  to: StageRef,
  snapshot: DealSnapshot,
  now: number,
  routing: RoutingInput | undefined,
): void {
  const at = snapshot.stageEnteredAt;
  const cur = state.current;
  if (cur && at !== null && state.gate.blockedTo === to.stage.id && state.gate.blockedEnteredAt === at) {
    fx.decide(
      'gate.already_blocked',
      `the move to "${to.stage.id}" was already blocked; waiting for HubSpot to show the gate move`,
    );
    trackOwner(fx, state, playbook, snapshot, now);
    trackPause(fx, state, playbook, snapshot, now);
    retargetStageClock(fx, state, playbook, snapshot, now);
    return;
  }

  const from = cur ? findStage(playbook, cur.stage) : undefined;
  // Our own remediation move arriving: not progress, not backflow, and already gate-checked.
  const viaGate = cur !== null && state.gate.pendingStage === to.stage.id;
  const kind = from ? moveKind(from, to) : 'cross_pipeline';
  const direction: HistoryRow['direction'] = kind === 'cross_pipeline' ? 'exit' : kind;

  // Every move the deal makes itself is gated; only what the gate moved, a first sighting and a re-entry of the
  // same stage (left and back between two reads: the deal is where it was) are taken as they are.
  const recorded = recordedClosureReason(state, to, snapshot);
  if (cur && from && !viaGate && from.stage.id !== to.stage.id) {
    const seen = recorded
      ? { ...snapshot, properties: { ...snapshot.properties, [P.closureReason]: recorded } }
      : snapshot;
    const missing = gateMissing(state, from, to, seen, now);
    if (missing.length > 0) {
      blockMove(fx, state, playbook, to, snapshot, missing, now);
      trackOwner(fx, state, playbook, snapshot, now);
      trackPause(fx, state, playbook, snapshot, now);
      retargetStageClock(fx, state, playbook, snapshot, now);
      return;
    }
  }

  let previous = null as ReturnType<typeof exitStage> | null;
  if (cur) {
    const why = viaGate
      ? `the gate sent the deal to ${to.stage.label}`
      : `the deal moved to ${to.stage.label}`;
    previous = exitStage(fx, state, playbook, snapshot, at ?? now, to.stage.id, direction, 'left', why, now);
    // A reopened deal is no longer closed: its closure reason would count it among closed deals in reports.
    if (from?.stage.closureReasons && !to.stage.closed) {
      fx.set({ [P.closureReason]: '' });
      fx.decide(
        'closure.reopened',
        `the deal left closed stage "${from.stage.label}"; its closure reason is cleared`,
      );
    }
  } else if (state.closedReason === 'unmanaged_pipeline') {
    fx.decide('deal.returned', `the deal is back in managed pipeline "${to.pipeline.id}"`);
  } else {
    fx.decide(
      'deal.first_seen',
      'no stored visit: the current stage is taken as it is, without a gate check',
    );
  }

  const loop =
    direction === 'backward' && cur
      ? to.pipeline.loops?.find((l) => l.from === cur.stage && l.to === to.stage.id)
      : undefined;
  if (loop)
    fx.decide(
      'loop',
      `declared loop back to "${to.stage.id}"${loop.reason ? ` (${loop.reason})` : ''}: not backflow`,
    );
  else if (direction === 'backward' && !viaGate) {
    // Includes a re-entry of the same stage (the deal left and came back between two reads).
    state.backflowCount += 1;
    fx.set({ [P.backflowCount]: String(state.backflowCount) });
    fx.decide('backflow', `backward move to "${to.stage.id}" (backflow #${state.backflowCount})`);
  }

  const gateTask = state.gate.taskKey ?? null;
  const keepGate = viaGate ? state.gate : null;
  if (!viaGate && gateTask)
    fx.push({
      type: 'cancelTask',
      key: gateTask,
      reason: 'the deal moved elsewhere before reaching the remediation stage',
    });

  const entry = enterStage(fx, state, playbook, to, snapshot, now, previous, routing);
  if (recorded) {
    fx.set({ [P.closureReason]: recorded });
    fx.decide(
      'closure.recorded',
      `closed as "${recorded}" from the recorded outcome of the visit left (patient unreachable)`,
    );
  }
  if (keepGate) {
    if (gateTask) entry.tasks.push({ key: gateTask, kind: 'remediation' });
    state.gate = { ...keepGate, pendingStage: null, taskKey: null };
    fx.decide(
      'gate.remediation_entered',
      `remediation stage "${to.stage.id}" entered; gate status stays ${keepGate.status}`,
    );
  } else {
    state.gate = { ...CLEAR_GATE };
    fx.set({ [P.gateStatus]: 'clear', [P.gateMissing]: '' });
  }
}

/**
 * Decides what a deal needs given HubSpot's current view of it. Snapshots are read fresh by the service, so
 * the engine does not care which webhook caused the read: duplicates change nothing, older reads are ignored.
 */
export function reconcile(input: ReconcileInput): EngineResult {
  const fx = new Effects();
  const { state, snapshot, now } = input;
  return decideDeal(
    fx,
    wasRestored(state, snapshot) ? { ...input, state: restoredState(fx, state, now) } : input,
  );
}

function decideDeal(fx: Effects, { playbook, state, snapshot, now, routing }: ReconcileInput): EngineResult {
  if (state && (state.closedReason === 'deleted' || state.closedReason === 'merged')) {
    fx.decide('deal.gone', `the deal was ${state.closedReason}; nothing more to do`);
    if (!snapshot.exists) cancelOrphanTasks(fx, state, snapshot, goneWhy(snapshot));
    return fx.result(state);
  }
  if (!snapshot.exists) {
    // A job that created tasks and died before saving state leaves them open with no visit to own them; the
    // gateway's snapshot of a gone deal lists the task map's tasks, so every open one is closed here.
    if (!state) {
      fx.decide('deal.gone', 'a deal never tracked no longer exists');
      cancelOrphanTasks(fx, null, snapshot, goneWhy(snapshot));
      return fx.result(null);
    }
    const s = structuredClone(state);
    closeOut(fx, s, playbook, snapshot, snapshot.mergedInto ? 'merged' : 'deleted', now, now);
    cancelOrphanTasks(fx, s, snapshot, goneWhy(snapshot));
    return fx.result(s);
  }
  if (state && isStale(state, snapshot)) {
    fx.decide('snapshot.stale', 'the snapshot shows an older stage entry than the stored visit; ignored');
    return fx.result(state);
  }

  const to = findManagedStage(playbook, snapshot.pipeline, snapshot.stage);
  if (!to) {
    if (!state) {
      fx.decide('deal.unmanaged', 'the deal is not in a pipeline/stage this playbook manages');
      return fx.result(null);
    }
    if (!state.current && state.closedReason === 'unmanaged_pipeline') {
      fx.decide('deal.unmanaged', 'still outside the managed pipelines');
      return fx.result(state);
    }
    const s = structuredClone(state);
    closeOut(fx, s, playbook, snapshot, 'unmanaged_pipeline', snapshot.stageEnteredAt ?? now, now);
    s.playbookVersion = playbook.version;
    if (snapshot.stageEnteredAt !== null)
      s.seenEnteredAt = Math.max(s.seenEnteredAt ?? 0, snapshot.stageEnteredAt);
    return fx.result(s);
  }

  const s = state ? structuredClone(state) : freshState(playbook, snapshot);
  const merged = adoptMerges(fx, s, snapshot, now);
  const before = s.current?.entryId ?? null;
  if (isSameVisit(s, snapshot)) sameVisit(fx, s, playbook, snapshot, now);
  else transition(fx, s, playbook, to, snapshot, now, routing);
  // A visit opened in this call was already built under the current playbook.
  if (s.current?.entryId === before) applyPlaybookChange(fx, s, playbook, snapshot, now);
  else s.playbookVersion = playbook.version;
  if (snapshot.stageEnteredAt !== null)
    s.seenEnteredAt = Math.max(s.seenEnteredAt ?? 0, snapshot.stageEnteredAt);
  trackEventClocks(fx, s, playbook, snapshot, now);
  if (merged) clearMergeFills(fx, s, playbook);
  cancelOrphanTasks(fx, s, snapshot);
  return fx.result(s);
}

/**
 * An open Stagekeeper task that belongs to no visit the state knows of: a job wrote it to HubSpot and died
 * before saving state, and the deal moved on before the retry (which then decides from the new stage). The
 * snapshot lists every task Stagekeeper created, so it is closed here instead of staying open for ever.
 */
function cancelOrphanTasks(
  fx: Effects,
  s: DealState | null,
  snapshot: DealSnapshot,
  reason = 'the stage visit it was created for has ended',
): void {
  const current = s?.current;
  const owned = new Set(current?.tasks.map((t) => t.key) ?? []);
  if (s?.gate.taskKey) owned.add(s.gate.taskKey);
  for (const c of fx.commands) if (c.type === 'cancelTask' || c.type === 'completeTask') owned.add(c.key);
  const prefixes = [...(current ? [`${current.entryId}:`] : []), ...eventClockKeyPrefixes(s)];
  for (const [key, status] of Object.entries(snapshot.tasks)) {
    if (status === 'COMPLETED' || owned.has(key) || prefixes.some((p) => key.startsWith(p))) continue;
    fx.push({ type: 'cancelTask', key, reason });
    fx.decide('task.orphan', `a task of an ended stage visit was still open; cancelled`);
  }
}

const goneWhy = (snapshot: DealSnapshot): string =>
  snapshot.mergedInto
    ? `the deal was merged into another deal (${snapshot.mergedInto})`
    : 'the deal was deleted';
