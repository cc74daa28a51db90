import type { AssignmentRule, Playbook, Role } from '../playbook/schema';
import type { Effects } from './effects';
import type { StageRef } from './lookup';
import { findRole } from './lookup';
import type { DealSnapshot, DealState, Routing, RoutingInput, StageEntry } from './types';

/** The stage's assignment rule: the playbook-level rule with the stage's exceptions on top; none means "keep". */
export function assignmentFor(playbook: Playbook, stageId: string): AssignmentRule | undefined {
  const base = playbook.assignment;
  if (!base) return undefined;
  const own = base.stages[stageId] ?? {};
  return {
    policy: own.policy ?? base.policy,
    pick: own.pick ?? base.pick,
    handoffNote: own.handoffNote ?? base.handoffNote,
  };
}

/** Seed 000 "one stage, one accountable role": the role's listed owners and its lead hold it. */
export const holdsRole = (role: Role, ownerId: string | null): boolean =>
  ownerId !== null && (role.owners.includes(ownerId) || role.lead === ownerId);

/**
 * The member who gets the work. Round-robin takes the role's cursor (the service keeps it in Redis and advances
 * it once the decision is saved); fewest-open-tasks takes the counts the service read, ties broken by the order
 * the role lists its owners. Without counts the decision asks for them and, meanwhile, takes the round-robin pick.
 */
function pickMember(
  fx: Effects,
  role: Role,
  rule: AssignmentRule,
  routing: RoutingInput | undefined,
): { to: string; pick: Routing['pick'] } {
  const members = role.owners;
  if (members.length === 0) return { to: role.lead, pick: 'lead' };
  if (rule.pick === 'fewestOpenTasks') {
    const counts = routing?.openTasks;
    if (counts && members.every((m) => counts[m] !== undefined)) {
      const to = members.reduce((best, m) => (counts[m]! < counts[best]! ? m : best), members[0]!);
      return { to, pick: 'fewestOpenTasks' };
    }
    fx.needOpenTasksOf(members);
  }
  const cursor = routing?.cursors?.[role.id] ?? 0;
  fx.push({ type: 'advanceRoundRobin', role: role.id });
  return { to: members[((cursor % members.length) + members.length) % members.length]!, pick: 'roundRobin' };
}

/**
 * Work follows the accountable role (seed 000 lines 64-74): on entry into a stage whose role does not hold the
 * deal's owner, the assignment policy hands the deal (or only the stage's tasks) to a role member, and the previous
 * owner gets a note on the deal. Returns who should get the stage's tasks, or null to leave them with the owner.
 */
export function routeWork(
  fx: Effects,
  state: DealState,
  playbook: Playbook,
  ref: StageRef,
  entry: StageEntry,
  snapshot: DealSnapshot,
  routing: RoutingInput | undefined,
  now: number,
): string | null {
  const { stage } = ref;
  const rule = assignmentFor(playbook, stage.id);
  const role = findRole(playbook, stage.ownerRole);
  if (!rule || rule.policy === 'keep' || !role || stage.closed) return null;
  const from = snapshot.ownerId;
  if (holdsRole(role, from)) return null;

  const { to, pick } = pickMember(fx, role, rule, routing);
  const mode = rule.policy;
  entry.routing = { at: now, mode, from, to, pick };
  const how =
    pick === 'lead' ? `role "${role.id}" lists no member, so its lead` : `${pick} in role "${role.id}"`;
  if (mode === 'assignDeal') {
    fx.push({ type: 'assignOwner', ownerId: to, reason: `work follows the role of "${stage.label}"` });
    // The stage starts with this owner: not a mid-stage handoff (no breach evidence), but HubSpot may lag.
    state.lastOwnerId = to;
    state.pendingOwner = { from, to };
    fx.record(
      state,
      now,
      'routing.deal_assigned',
      `"${stage.label}" belongs to ${role.name}: deal owner ${from ?? 'none'} -> ${to} (${how})`,
    );
  } else {
    entry.assignee = to;
    fx.record(
      state,
      now,
      'routing.tasks_assigned',
      `"${stage.label}" belongs to ${role.name}: its tasks go to ${to} (${how}); the deal stays with ${from ?? 'no owner'}`,
    );
  }
  if (rule.handoffNote && from) {
    fx.push({
      type: 'addNote',
      key: `${entry.entryId}:handoff-note`,
      body:
        `Stagekeeper handoff: the deal entered ${stage.label}, which ${role.name} is accountable for. ` +
        (mode === 'assignDeal'
          ? `Owner ${from} handed the deal to ${to}.`
          : `Owner ${from} keeps the deal; the stage's tasks went to ${to}.`),
    });
  }
  return to;
}
