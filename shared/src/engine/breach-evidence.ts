import type { BreachReason, BreachReasonRule, BreachRules, Playbook, Role, Stage } from '../playbook/schema';
import { criterionHolds, criterionLabel, parseInstant, parseNumber } from './criteria';
import { findRole } from './lookup';
import type { BreachFactsT, DealSnapshot, StageEntry } from './types';

/**
 * What the engine can see at breach time (counts, flags and playbook labels; never a property value). The rules
 * below read nothing else, so the reason a breach gets is a function of this record, which is kept with it.
 */
export type BreachEvidence = {
  /**
   * Exit criteria still unmet (labels). Rules read `missingData` when given and fall back to this list (callers
   * that only know "unmet exit criteria", such as what-if replays of older rows).
   */
  missingExit: string[];
  /** Unmet *data* exit criteria: property tests. An action not yet done (`taskDone`) is not missing data. */
  missingData?: string[];
  /** Unmet `taskDone` exit criteria: work not done, which on its own explains nothing about why. */
  pendingActions?: string[];
  ownerChanges: number;
  noOwner: boolean;
  /** The owner is not among the role's owners; undefined when it cannot be told (the role is held by teams). */
  ownerOutsideRole?: boolean;
  /** Contact attempts logged since entry, none answered by an inbound reply since entry. */
  unansweredAttempts: number;
  /** Open tasks the owner holds across the portal (read from HubSpot at the breach); undefined when unknown. */
  ownerOpenTasks: number | undefined;
  /** The stage role's capacity threshold (`roles[].capacity.openTasks`). */
  capacityThreshold?: number;
};

/** Whether the owner holds the role: by the role's owner list; a role also held by teams cannot say "outside". */
export function ownerOutsideRole(role: Role | undefined, ownerId: string | null): boolean | undefined {
  if (!role || !ownerId) return undefined;
  if (role.owners.includes(ownerId)) return false;
  return role.teams.length === 0 ? true : undefined;
}

export function gatherEvidence(
  playbook: Playbook,
  stage: Stage | undefined,
  entry: StageEntry,
  snapshot: DealSnapshot,
  now: number,
): BreachEvidence {
  const missingData: string[] = [];
  const pendingActions: string[] = [];
  for (const c of stage?.exitCriteria ?? []) {
    if (criterionHolds(c, snapshot, entry.tasks, now)) continue;
    (c.op === 'taskDone' ? pendingActions : missingData).push(criterionLabel(c));
  }
  const attempts = parseNumber(snapshot.properties[playbook.signals.contactAttempts]) ?? 0;
  const replyProp = playbook.signals.lastInboundReply;
  const lastReply = replyProp ? parseInstant(snapshot.properties[replyProp]) : null;
  // A reply after entry answers the attempts: the patient was reachable, whatever else went wrong.
  const replied = lastReply !== null && lastReply >= entry.enteredAt;
  const role = stage ? findRole(playbook, stage.ownerRole) : undefined;
  const outside = ownerOutsideRole(role, snapshot.ownerId);
  return {
    missingExit: [...missingData, ...pendingActions],
    missingData,
    pendingActions,
    ownerChanges: entry.ownerChanges.length,
    noOwner: !snapshot.ownerId,
    ...(outside !== undefined ? { ownerOutsideRole: outside } : {}),
    unansweredAttempts: replied ? 0 : Math.max(0, attempts - entry.contactAttemptsAtEntry),
    ownerOpenTasks: snapshot.ownerOpenTasks,
    ...(role?.capacity ? { capacityThreshold: role.capacity.openTasks } : {}),
  };
}

const dataMissing = (e: BreachEvidence) => e.missingData ?? e.missingExit;
const overCapacity = (e: BreachEvidence) =>
  e.ownerOpenTasks !== undefined &&
  e.capacityThreshold !== undefined &&
  e.ownerOpenTasks > e.capacityThreshold;

export type Inferred = { reason: BreachReason; evidence: string[]; rule: string };

/**
 * The documented evidence test of each reason (docs/breach-reasons.md), with the labels of what decided it.
 * Returns null when the reason's evidence is absent.
 */
function testReason(
  reason: BreachRules['precedence'][number],
  e: BreachEvidence,
  rules: BreachRules,
): string[] | null {
  switch (reason) {
    case 'patient_unreachable':
      return e.unansweredAttempts >= rules.unreachableAfterAttempts
        ? [
            `${e.unansweredAttempts} contact attempt(s) since entry, no inbound reply since entry (threshold ${rules.unreachableAfterAttempts})`,
          ]
        : null;
    case 'handoff': {
      const found = [
        ...(e.noOwner ? ['deal has no owner'] : []),
        ...(e.ownerChanges > 0 ? [`owner changed ${e.ownerChanges} time(s) during the visit`] : []),
        ...(e.ownerOutsideRole ? ["owner is not one of the stage role's owners"] : []),
      ];
      return found.length > 0 ? found : null;
    }
    case 'capacity':
      return overCapacity(e)
        ? [
            `owner holds ${e.ownerOpenTasks} open tasks in HubSpot, above the role's threshold of ${e.capacityThreshold}`,
          ]
        : null;
    case 'missing_data':
      return dataMissing(e).length > 0 ? dataMissing(e).map((m) => `data criterion unmet: ${m}`) : null;
  }
}

function ruleMatches(rule: BreachReasonRule, e: BreachEvidence): boolean {
  const missing = rule.missingData ?? rule.missingExitCriteria;
  if (missing !== undefined && missing !== dataMissing(e).length > 0) return false;
  if (rule.ownerChanged !== undefined && rule.ownerChanged !== e.ownerChanges > 0) return false;
  if (rule.noOwner !== undefined && rule.noOwner !== e.noOwner) return false;
  // An owner whose membership cannot be told matches neither "outside" nor "inside": no guess either way.
  if (rule.ownerOutsideRole !== undefined && e.ownerOutsideRole !== rule.ownerOutsideRole) return false;
  if (rule.unansweredContactAttempts !== undefined && e.unansweredAttempts < rule.unansweredContactAttempts)
    return false;
  if (
    rule.ownerOpenTasksAtLeast !== undefined &&
    (e.ownerOpenTasks === undefined || e.ownerOpenTasks < rule.ownerOpenTasksAtLeast)
  )
    return false;
  if (rule.overCapacity !== undefined && rule.overCapacity !== overCapacity(e)) return false;
  return true;
}

function ruleLabels(rule: BreachReasonRule, e: BreachEvidence): string[] {
  const labels: string[] = [];
  if (rule.missingData || rule.missingExitCriteria)
    labels.push(...dataMissing(e).map((m) => `data criterion unmet: ${m}`));
  if (rule.ownerChanged) labels.push(`owner changed ${e.ownerChanges} time(s) during the visit`);
  if (rule.noOwner) labels.push('deal has no owner');
  if (rule.ownerOutsideRole) labels.push("owner is not one of the stage role's owners");
  if (rule.unansweredContactAttempts !== undefined)
    labels.push(`${e.unansweredAttempts} contact attempt(s) since entry, no inbound reply since entry`);
  if (rule.ownerOpenTasksAtLeast !== undefined)
    labels.push(`owner holds ${e.ownerOpenTasks} open tasks in HubSpot`);
  if (rule.overCapacity)
    labels.push(
      `owner holds ${e.ownerOpenTasks} open tasks, above the role's threshold of ${e.capacityThreshold}`,
    );
  return labels;
}

const NO_EVIDENCE = 'no evidence for capacity, missing data, handoff or an unreachable patient';

/**
 * A stage's own rule list is tried in order (first match wins); otherwise each reason's evidence test in the
 * playbook's precedence. Nothing holds: "other", never a guess.
 */
export function inferBreachReason(
  stage: Stage | undefined,
  evidence: BreachEvidence,
  rules?: BreachRules,
): Inferred {
  const own = stage?.breachReasons;
  if (own) {
    const i = own.findIndex((r) => ruleMatches(r, evidence));
    const rule = own[i];
    if (!rule) return { reason: 'other', evidence: [NO_EVIDENCE], rule: 'fallback' };
    const labels = ruleLabels(rule, evidence);
    return { reason: rule.reason, evidence: labels.length > 0 ? labels : [NO_EVIDENCE], rule: `stage[${i}]` };
  }
  const r = rules ?? DEFAULT_RULES;
  for (const reason of r.precedence) {
    const labels = testReason(reason, evidence, r);
    if (labels) return { reason, evidence: labels, rule: `precedence:${reason}` };
  }
  return { reason: 'other', evidence: [NO_EVIDENCE], rule: 'fallback' };
}

const DEFAULT_RULES: BreachRules = {
  precedence: ['patient_unreachable', 'handoff', 'capacity', 'missing_data'],
  unreachableAfterAttempts: 2,
};

/** Facts of the evidence worth reporting on (numbers and flags), kept on the visit and written back. */
export function breachFacts(e: BreachEvidence): BreachFactsT {
  return {
    ownerOpenTasks: e.ownerOpenTasks ?? null,
    capacityThreshold: e.capacityThreshold ?? null,
    unansweredAttempts: e.unansweredAttempts,
    missingData: dataMissing(e).length,
    pendingActions: e.pendingActions?.length ?? 0,
    ownerChanges: e.ownerChanges,
    noOwner: e.noOwner,
    ownerOutsideRole: e.ownerOutsideRole ?? null,
  };
}
