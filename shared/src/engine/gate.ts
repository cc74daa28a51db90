import type { Pipeline, Playbook } from '../playbook/schema';
import { P } from '../properties';
import { entryCriteriaOf, evaluateCriteria } from './criteria';
import { Effects } from './effects';
import { findStage, type StageRef } from './lookup';
import { ownerFor } from './tasks';
import type { DealSnapshot, DealState, GateState } from './types';

export const CLEAR_GATE: GateState = {
  status: 'clear',
  missing: [],
  blockedFrom: null,
  blockedTo: null,
  pendingStage: null,
  at: null,
  blockedEnteredAt: null,
  taskKey: null,
};

/** How a move relates to the stage left: later in the same pipeline, earlier (or the same stage), or elsewhere. */
export type MoveKind = 'forward' | 'backward' | 'cross_pipeline';

export function moveKind(from: StageRef, to: StageRef): MoveKind {
  if (from.pipeline.id !== to.pipeline.id) return 'cross_pipeline';
  return to.index > from.index ? 'forward' : 'backward';
}

/**
 * The stages a forward move skips that still hold it to their exit criteria: every stage between the two, except
 * closed stages (ends of the journey, not steps on it), remediation stages (detours a gate sends deals to) and all
 * of them when the pipeline names the move as an allowed shortcut.
 */
export function skippedStages(from: StageRef, to: StageRef): StageRef['stage'][] {
  const pipeline = to.pipeline;
  if (from.pipeline.id !== pipeline.id || to.index <= from.index + 1) return [];
  if (pipeline.shortcuts.some((s) => s.from === from.stage.id && s.to === to.stage.id)) return [];
  const detours = remediationStages(pipeline);
  return pipeline.stages.slice(from.index + 1, to.index).filter((s) => !s.closed && !detours.has(s.id));
}

/** Stages some gate of the pipeline sends blocked deals to. */
function remediationStages(pipeline: Pipeline): Set<string> {
  const out = new Set<string>();
  for (const g of [pipeline.gate, ...pipeline.stages.map((s) => s.gate)])
    if (g?.onBlocked === 'remediate') out.add(g.stage);
  return out;
}

/**
 * Where a deal normally goes from here: the next step of the journey (closed outcomes and remediation detours are
 * not steps). From a remediation stage, the stage whose gate sent deals there. None from a closed or the last stage.
 */
export function nextStep(from: StageRef): StageRef | undefined {
  const { pipeline } = from;
  if (from.stage.closed) return undefined;
  const detours = remediationStages(pipeline);
  const at = (index: number): StageRef => ({ pipeline, stage: pipeline.stages[index]!, index });
  if (detours.has(from.stage.id)) {
    // A pipeline-wide remediation stage serves every stage; then the journey order decides.
    const back = pipeline.stages.findIndex(
      (s) => s.gate?.onBlocked === 'remediate' && s.gate.stage === from.stage.id,
    );
    if (back >= 0) return at(back);
  }
  const index = pipeline.stages.findIndex((s, i) => i > from.index && !s.closed && !detours.has(s.id));
  return index >= 0 ? at(index) : undefined;
}

/**
 * What a move is missing. Every move needs the target's entry criteria (a closure reason for a closed stage that
 * takes one), whichever way it goes: back, forward or into another pipeline. A forward move also needs the exit
 * criteria of the stage left and of every stage it skips (000: "No transition should happen with missing critical
 * fields"); a skipped stage's items are named with its label. A closed stage is only held to its own entry
 * criteria, because losing a deal must always be possible; put closed-won requirements in its entryCriteria.
 */
export function gateMissing(
  state: DealState,
  from: StageRef,
  to: StageRef,
  snapshot: DealSnapshot,
  now: number,
): string[] {
  const entryTasks = state.current?.tasks ?? [];
  const forward = moveKind(from, to) === 'forward' && !to.stage.closed;
  const exit = forward ? evaluateCriteria(from.stage.exitCriteria, snapshot, entryTasks, now).missing : [];
  // A skipped stage was never visited (this time), so its task criteria see no tasks and stay unmet.
  const skipped = forward
    ? skippedStages(from, to).flatMap((s) =>
        evaluateCriteria(s.exitCriteria, snapshot, [], now).missing.map((m) => `${s.label}: ${m}`),
      )
    : [];
  // Entry criteria cannot refer to tasks of a visit that has not started, so they see none.
  const entry = evaluateCriteria(entryCriteriaOf(to.stage), snapshot, [], now).missing;
  return [...new Set([...exit, ...skipped, ...entry])];
}

/**
 * Blocks a move: sends the deal back (revert) or to the remediation stage and gives the owner a task
 * naming what is missing. The current visit and its clock stay as they are: a blocked move is not progress.
 */
export function blockMove(
  fx: Effects,
  state: DealState,
  playbook: Playbook,
  to: StageRef,
  snapshot: DealSnapshot,
  missing: string[],
  now: number,
): void {
  const entry = state.current;
  if (!entry) return;
  const gate = to.stage.gate ?? to.pipeline.gate;
  const dest = gate.onBlocked === 'revert' ? entry.stage : gate.stage;
  const stays = dest === entry.stage;
  const destRef = findStage(playbook, dest);
  const blockedEnteredAt = snapshot.stageEnteredAt;
  const key = `${entry.entryId}:remediation:${to.stage.id}:${blockedEnteredAt ?? now}`;

  // A remediation task left over from an earlier block that never reached its stage is superseded.
  if (state.gate.taskKey)
    fx.push({ type: 'cancelTask', key: state.gate.taskKey, reason: 'superseded by a newer gate block' });

  const owner = destRef
    ? ownerFor(fx, playbook, destRef.stage, snapshot.ownerId, 'remediation task')
    : snapshot.ownerId;
  const clock = entry.sla;
  // A blocked move into another pipeline goes back across: HubSpot only takes a stage together with its pipeline.
  const toPipeline =
    destRef && destRef.pipeline.id !== snapshot.pipeline ? { toPipeline: destRef.pipeline.id } : {};
  fx.push({
    type: 'moveStage',
    toStage: dest,
    ...toPipeline,
    reason: gate.onBlocked === 'revert' ? 'gate_revert' : 'gate_remediation',
  });
  fx.push({
    type: 'createTask',
    key,
    kind: 'remediation',
    subject: `Blocked from ${to.stage.label}: ${missing.join('; ')}`.slice(0, 255),
    body: `The move to ${to.stage.label} was blocked. Missing:\n${missing.map((m) => `- ${m}`).join('\n')}\nComplete these, then move the deal again.`,
    // Fixing the gap is part of the stage's work, so it shares the stage's deadline when there is one running.
    dueAt: stays && clock && clock.status === 'running' ? Math.max(now, clock.dueAt) : now,
    ownerId: owner,
    priority: 'HIGH',
    taskType: 'TODO',
  });
  if (stays) entry.tasks.push({ key, kind: 'remediation' });

  const status = gate.onBlocked === 'revert' ? 'blocked_reverted' : 'blocked_remediation';
  state.gate = {
    status,
    missing,
    blockedFrom: entry.stage,
    blockedTo: to.stage.id,
    pendingStage: dest,
    at: now,
    blockedEnteredAt,
    taskKey: stays ? null : key,
  };
  fx.set({ [P.gateStatus]: status, [P.gateMissing]: missing.join('; ') });
  fx.decide(
    'gate.blocked',
    `move "${entry.stage}" -> "${to.stage.id}" blocked (${missing.length} missing); deal sent to "${dest}" by ${gate.onBlocked}; ` +
      `the clock of "${entry.stage}" keeps running`,
  );
}
