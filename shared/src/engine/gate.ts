import type { Playbook } from '../playbook/schema';
import { P } from '../properties';
import { evaluateCriteria } from './criteria';
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

/**
 * What a forward move is missing: the source stage's exit criteria and the target's entry criteria. A closed
 * stage is only held to its own entry criteria, because losing a deal must always be possible; put closed-won
 * requirements in that stage's entryCriteria.
 */
export function gateMissing(
  state: DealState,
  from: StageRef,
  to: StageRef,
  snapshot: DealSnapshot,
  now: number,
): string[] {
  const entryTasks = state.current?.tasks ?? [];
  const exit = to.stage.closed ? [] : evaluateCriteria(from.stage.exitCriteria, snapshot, entryTasks, now).missing;
  // Entry criteria cannot refer to tasks of a visit that has not started, so they see none.
  const entry = evaluateCriteria(to.stage.entryCriteria, snapshot, [], now).missing;
  return [...new Set([...exit, ...entry])];
}

/**
 * Blocks a forward move: sends the deal back (revert) or to the remediation stage and gives the owner a task
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
  if (state.gate.taskKey) fx.push({ type: 'cancelTask', key: state.gate.taskKey, reason: 'superseded by a newer gate block' });

  const owner = destRef ? ownerFor(fx, playbook, destRef.stage, snapshot.ownerId, 'remediation task') : snapshot.ownerId;
  const clock = entry.sla;
  fx.push({ type: 'moveStage', toStage: dest, reason: gate.onBlocked === 'revert' ? 'gate_revert' : 'gate_remediation' });
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
