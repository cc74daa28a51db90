import type { Playbook } from '../playbook/schema';
import { P } from '../properties';
import { parseNumber } from './criteria';
import { Effects, iso, msProp } from './effects';
import type { StageRef } from './lookup';
import { pauseHolds, runningStatus } from './pause';
import { clockContext, pauseClock, startClock, syncTimers } from './sla-clock';
import { leadOf, ownerFor, slaTask, templateDueAt, templateTask } from './tasks';
import { routeWork } from './routing';
import { taskZone } from './task-time';
import type { DealSnapshot, DealState, RoutingInput, StageEntry } from './types';
import { captureInputs, entryCriteriaOf, notePause } from './visit-inputs';

export type PreviousOutcome = 'met' | 'breached' | 'none' | 'cancelled' | null;

export const entryIdOf = (dealId: string, stage: string, enteredAt: number) =>
  `${dealId}:${stage}:${enteredAt}`;

/** The deal of an entry id (`entryIdOf`, or an event-clock run `<deal>:clock.<id>:<start>`); '' without one. */
export const dealIdOfEntry = (entryId: string): string =>
  entryId.indexOf(':') > 0 ? entryId.slice(0, entryId.indexOf(':')) : '';

/**
 * Opens a new stage visit. The clock starts when HubSpot says the deal entered the stage, so a webhook that
 * arrives late (or a sweep that finds the deal hours later) does not give anyone extra time.
 */
export function enterStage(
  fx: Effects,
  state: DealState,
  playbook: Playbook,
  ref: StageRef,
  snapshot: DealSnapshot,
  now: number,
  previous: PreviousOutcome,
  routing?: RoutingInput,
): StageEntry {
  const { stage, pipeline } = ref;
  const hubspotAt = snapshot.stageEnteredAt;
  const enteredAt = hubspotAt ?? now;
  if (hubspotAt === null)
    fx.decide(
      'entry.time_fallback',
      `HubSpot gave no hs_v2_date_entered_${stage.id}; the clock starts now instead`,
    );

  const entry: StageEntry = {
    entryId: entryIdOf(snapshot.dealId, stage.id, enteredAt),
    pipeline: pipeline.id,
    stage: stage.id,
    enteredAt,
    ownerRole: stage.ownerRole,
    ownerAtEntry: snapshot.ownerId,
    sla: null,
    tasks: [],
    ownerChanges: [],
    contactAttemptsAtEntry: parseNumber(snapshot.properties[playbook.signals.contactAttempts]) ?? 0,
    breachReason: null,
    breachReasonSource: null,
    breachEvidence: [],
    enteredAtSource: hubspotAt === null ? 'now' : 'hubspot',
    aliasEnteredAt: [],
    pauseSeen: [],
  };
  entry.inputs = captureInputs(playbook, entryCriteriaOf(stage), snapshot, entry, now);
  state.current = entry;
  state.lastOwnerId = snapshot.ownerId;
  // A new visit starts from the owner HubSpot shows; an assignment still in flight shows up as a change later.
  state.pendingOwner = null;
  state.closedReason = stage.closed ? 'closed_stage' : null;
  fx.decide('entry', `entered "${stage.label}" at ${iso(enteredAt)} (entry ${entry.entryId})`);
  fx.set({ [P.stageOwnerRole]: stage.ownerRole, [P.escalationLevel]: '0' });

  if (stage.closed) {
    // The journey is over: what the card should show is how the last stage ended.
    const status = previous === 'met' ? 'met' : previous === 'breached' ? 'breached_closed' : '';
    fx.decide('entry.closed_stage', `"${stage.label}" is a closed stage: no clock, no tasks`);
    fx.set({ [P.slaStatus]: status, [P.slaDueAt]: '', [P.slaWarningAt]: '' });
    return entry;
  }

  // Work follows the accountable role: the stage's tasks go to whoever the assignment policy picks.
  // Only an entry Stagekeeper saw happen is routed: a deal first seen (an install over a portal's existing deals,
  // a lost state) has been wherever it is for who knows how long, and reassigning it en masse would surprise.
  const worker =
    (previous !== null ? routeWork(fx, state, playbook, ref, entry, snapshot, routing, now) : null) ??
    snapshot.ownerId;
  const ctx = clockContext(playbook, stage);
  if (ctx) {
    const clock = startClock(ctx, snapshot, enteredAt, now);
    entry.sla = clock;
    fx.decide(
      'sla.started',
      `target ${clock.targetMs} ms ${clock.basis} (rule ${clock.targetRule}), due ${iso(clock.dueAt)}, warning ${iso(clock.warningAt)}`,
    );
    const pausedAtEntry = pauseHolds(ctx, snapshot, entry, now);
    notePause(entry, pausedAtEntry, Math.max(now, enteredAt));
    if (pausedAtEntry) {
      pauseClock(clock, ctx, Math.max(now, enteredAt));
      fx.decide('sla.paused', `a pause condition already holds when the entry is first seen`);
    }
    const owner = ownerFor(fx, playbook, stage, worker, 'SLA task');
    fx.push(slaTask(entry, stage, clock, owner, taskZone(playbook, clock.calendar)));
    entry.tasks.push({ key: `${entry.entryId}:sla`, kind: 'sla' });
    fx.set({
      [P.slaStatus]: clock.status === 'paused' ? 'paused' : runningStatus(clock),
      [P.slaDueAt]: msProp(clock.dueAt),
      [P.slaWarningAt]: msProp(clock.warningAt),
    });
  } else {
    fx.set({ [P.slaStatus]: '', [P.slaDueAt]: '', [P.slaWarningAt]: '' });
  }

  for (const template of stage.requiredActions) {
    const dueAt = templateDueAt(fx, playbook, stage, template, enteredAt, entry.sla?.dueAt ?? null);
    const owner =
      template.assignee === 'lead'
        ? leadOf(playbook, stage)
        : ownerFor(fx, playbook, stage, worker, `task "${template.id}"`);
    const task = templateTask(entry, template, dueAt, owner);
    fx.push(task);
    entry.tasks.push({ key: task.key, kind: 'action', templateId: template.id });
  }

  fx.push(...syncTimers(entry.entryId, entry.sla, ctx));
  return entry;
}
