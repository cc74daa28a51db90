import type { Playbook } from '../playbook/schema';
import type { Effects } from './effects';
import { findStage } from './lookup';
import { slaTaskSubject } from './tasks';
import { taskTime, taskZone } from './task-time';
import type { DealSnapshot, DealState } from './types';

const KIND_NAMES: Record<string, string> = {
  action: 'Required action',
  sla: 'Stage SLA task',
  remediation: 'Gate remediation',
  warning: 'SLA warning',
  escalation: 'SLA escalation',
  handoff: 'Earlier handoff note',
};

/**
 * Records an owner change on the current entry (handoff evidence for breach reasons) and gives a new owner a
 * handoff task listing the stage's open Stagekeeper tasks. HubSpot keeps each existing task with whoever it
 * was assigned to, and reassigning them silently would hide who dropped what, so they are listed instead.
 */
export function recordOwnerChange(
  fx: Effects,
  state: DealState,
  playbook: Playbook,
  snapshot: DealSnapshot,
  to: string | null,
  at: number,
  why: string,
): void {
  const entry = state.current;
  const from = state.lastOwnerId;
  state.lastOwnerId = to;
  if (!entry) return;
  entry.ownerChanges.push({ at, from, to });
  const n = entry.ownerChanges.length;
  fx.decide('owner.changed', `${why}: change #${n} in stage "${entry.stage}", kept as handoff evidence`);
  const ref = findStage(playbook, entry.stage);
  if (!to || !ref || ref.stage.closed) return;

  const open = entry.tasks.filter((t) => snapshot.tasks[t.key] !== 'COMPLETED');
  const subjectOf = (t: (typeof open)[number]) =>
    t.kind === 'sla'
      ? slaTaskSubject(ref.stage)
      : (ref.stage.requiredActions.find((a) => a.id === t.templateId)?.subject ?? KIND_NAMES[t.kind]);
  const clock = entry.sla;
  const key = `${entry.entryId}:handoff:${n}`;
  entry.tasks.push({ key, kind: 'handoff' });
  fx.push({
    type: 'createTask',
    key,
    kind: 'handoff',
    subject: `${ref.stage.label}: handoff, you now own this deal`,
    body:
      (clock && (clock.status === 'running' || clock.status === 'paused')
        ? `Stage SLA due ${taskTime(clock.dueAt, taskZone(playbook, clock.calendar))} (${clock.status}).\n`
        : '') +
      (open.length
        ? `Open Stagekeeper tasks still assigned to the previous owner:\n${open.map((t) => `- ${subjectOf(t)}`).join('\n')}`
        : 'No open Stagekeeper tasks in this stage.'),
    // A handoff is read now, not at the SLA deadline: the new owner needs the context before the work.
    dueAt: at,
    ownerId: to,
    priority: 'HIGH',
    taskType: 'TODO',
  });
}

export function trackOwner(
  fx: Effects,
  state: DealState,
  playbook: Playbook,
  snapshot: DealSnapshot,
  now: number,
): void {
  const pending = state.pendingOwner ?? null;
  if (pending) {
    // Until HubSpot shows our own assignment, a read with the previous owner is just a read from before it.
    if (snapshot.ownerId === pending.from) return;
    state.pendingOwner = null;
  }
  if (snapshot.ownerId === state.lastOwnerId) return;
  recordOwnerChange(fx, state, playbook, snapshot, snapshot.ownerId, now, 'HubSpot shows a new deal owner');
}
