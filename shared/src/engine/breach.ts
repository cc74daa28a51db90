import { DEFAULT_BREACH_RULES, BreachReasonRule, type BreachReason, type Playbook, type Stage } from '../playbook/schema';
import { P } from '../properties';
import { evaluateCriteria, parseInstant, parseNumber } from './criteria';
import { Effects, msProp } from './effects';
import type { DealSnapshot, DealState, StageEntry } from './types';

const DEFAULT_RULES = DEFAULT_BREACH_RULES.map((r) => BreachReasonRule.parse(r));

/** What the engine can see at breach time, with a label for each piece (counts and names, no values). */
export type BreachEvidence = {
  missingExit: string[];
  ownerChanges: number;
  noOwner: boolean;
  unansweredAttempts: number;
  ownerOpenTasks: number | undefined;
};

export function gatherEvidence(
  playbook: Playbook,
  stage: Stage | undefined,
  entry: StageEntry,
  snapshot: DealSnapshot,
  now: number,
): BreachEvidence {
  const missingExit = stage ? evaluateCriteria(stage.exitCriteria, snapshot, entry.tasks, now).missing : [];
  const attempts = parseNumber(snapshot.properties[playbook.signals.contactAttempts]) ?? 0;
  const replyProp = playbook.signals.lastInboundReply;
  const lastReply = replyProp ? parseInstant(snapshot.properties[replyProp]) : null;
  // A reply after entry answers the attempts: the patient was reachable, whatever else went wrong.
  const replied = lastReply !== null && lastReply >= entry.enteredAt;
  return {
    missingExit,
    ownerChanges: entry.ownerChanges.length,
    noOwner: !snapshot.ownerId,
    unansweredAttempts: replied ? 0 : Math.max(0, attempts - entry.contactAttemptsAtEntry),
    ownerOpenTasks: snapshot.ownerOpenTasks,
  };
}

function ruleMatches(rule: BreachReasonRule, e: BreachEvidence): boolean {
  if (rule.missingExitCriteria !== undefined && rule.missingExitCriteria !== e.missingExit.length > 0) return false;
  if (rule.ownerChanged !== undefined && rule.ownerChanged !== e.ownerChanges > 0) return false;
  if (rule.noOwner !== undefined && rule.noOwner !== e.noOwner) return false;
  if (rule.unansweredContactAttempts !== undefined && e.unansweredAttempts < rule.unansweredContactAttempts) return false;
  if (rule.ownerOpenTasksAtLeast !== undefined && (e.ownerOpenTasks ?? 0) < rule.ownerOpenTasksAtLeast) return false;
  return true;
}

function evidenceLabels(rule: BreachReasonRule, e: BreachEvidence): string[] {
  const labels: string[] = [];
  if (rule.missingExitCriteria) labels.push(...e.missingExit.map((m) => `exit criterion unmet: ${m}`));
  if (rule.ownerChanged) labels.push(`owner changed ${e.ownerChanges} time(s) in the stage`);
  if (rule.noOwner) labels.push('deal has no owner');
  if (rule.unansweredContactAttempts !== undefined)
    labels.push(`${e.unansweredAttempts} contact attempt(s) since entry without a reply`);
  if (rule.ownerOpenTasksAtLeast !== undefined) labels.push(`owner holds ${e.ownerOpenTasks ?? 0} open tasks`);
  return labels;
}

/** The first rule (stage's own list, else the defaults) whose every condition holds names the reason. */
export function inferBreachReason(
  stage: Stage | undefined,
  evidence: BreachEvidence,
): { reason: BreachReason; evidence: string[]; rule: string } {
  const own = stage?.breachReasons;
  const rules = own ?? DEFAULT_RULES;
  const i = rules.findIndex((r) => ruleMatches(r, evidence));
  const rule = rules[i];
  if (!rule) return { reason: 'other', evidence: ['no breach-reason rule matched'], rule: 'fallback' };
  return { reason: rule.reason, evidence: evidenceLabels(rule, evidence), rule: `${own ? 'stage' : 'default'}[${i}]` };
}

/**
 * Marks the current entry's clock breached at `at` (the due instant: a timer that fires late must not move
 * the breach) and writes the breach properties. A reason a rep set by hand is never replaced by inference.
 */
export function applyBreach(
  fx: Effects,
  state: DealState,
  playbook: Playbook,
  stage: Stage | undefined,
  snapshot: DealSnapshot,
  at: number,
  now: number,
): void {
  const entry = state.current;
  const clock = entry?.sla;
  if (!entry || !clock) return;
  clock.status = 'breached';
  clock.breachedAt = at;
  state.breachCount += 1;
  state.lastBreachEntryId = entry.entryId;
  if (entry.breachReasonSource === 'manual') {
    fx.decide('breach.reason_manual_kept', `reason "${entry.breachReason}" was set by a rep; inference skipped`);
  } else {
    const inferred = inferBreachReason(stage, gatherEvidence(playbook, stage, entry, snapshot, now));
    entry.breachReason = inferred.reason;
    entry.breachReasonSource = 'inferred';
    entry.breachEvidence = inferred.evidence;
    fx.decide('breach.reason_inferred', `${inferred.reason} by rule ${inferred.rule}: ${inferred.evidence.join('; ')}`);
  }
  fx.decide('breach', `SLA of stage "${entry.stage}" breached at its due time ${new Date(at).toISOString()}`);
  fx.set({
    [P.slaStatus]: 'breached',
    [P.slaBreachedAt]: msProp(at),
    [P.breachReason]: entry.breachReason ?? 'other',
    [P.breachReasonSource]: entry.breachReasonSource ?? 'inferred',
    [P.breachStage]: entry.stage,
    [P.breachCount]: String(state.breachCount),
  });
}
