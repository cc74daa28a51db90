import type { Playbook, Stage } from '../playbook/schema';
import { P } from '../properties';
import { breachFacts, gatherEvidence, inferBreachReason } from './breach-evidence';
import { Effects, msProp } from './effects';
import type { DealSnapshot, DealState, EngineResult } from './types';

export { gatherEvidence, inferBreachReason, type BreachEvidence } from './breach-evidence';

/** Rule of the decision that an inferred breach reason emits; the worker looks for it (`needsOwnerLoad`). */
export const REASON_INFERRED = 'breach.reason_inferred';

/**
 * Whether a decision inferred a breach reason without knowing the owner's open-task load. The worker then reads
 * the load from HubSpot (one search call, at breaches only) and decides again, so capacity can be told.
 */
export function needsOwnerLoad(snapshot: DealSnapshot, result: EngineResult): boolean {
  return (
    snapshot.ownerOpenTasks === undefined &&
    snapshot.ownerId !== null &&
    result.decisions.some((d) => d.rule === REASON_INFERRED)
  );
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
    fx.decide(
      'breach.reason_manual_kept',
      `reason "${entry.breachReason}" was set by a rep; inference skipped`,
    );
  } else {
    const evidence = gatherEvidence(playbook, stage, entry, snapshot, now);
    const inferred = inferBreachReason(stage, evidence, playbook.breachRules);
    entry.breachReason = inferred.reason;
    entry.breachReasonSource = 'inferred';
    entry.breachEvidence = inferred.evidence;
    entry.breachFacts = breachFacts(evidence);
    entry.inferredReason = inferred.reason;
    fx.decide(
      REASON_INFERRED,
      `${inferred.reason} by rule ${inferred.rule}: ${inferred.evidence.join('; ')}`,
    );
  }
  const facts = entry.breachFacts;
  fx.decide('breach', `SLA of stage "${entry.stage}" breached at its due time ${new Date(at).toISOString()}`);
  fx.set({
    [P.slaStatus]: 'breached',
    [P.slaBreachedAt]: msProp(at),
    [P.breachReason]: entry.breachReason ?? 'other',
    [P.breachReasonSource]: entry.breachReasonSource ?? 'inferred',
    [P.breachStage]: entry.stage,
    [P.breachCount]: String(state.breachCount),
    // Reportable evidence: what decided the reason (labels) and the load and attempts it read ("" = unknown).
    [P.breachEvidence]: entry.breachEvidence.join('; ').slice(0, 1000),
    [P.breachOwnerOpenTasks]: facts?.ownerOpenTasks != null ? String(facts.ownerOpenTasks) : '',
    [P.breachUnansweredAttempts]: facts ? String(facts.unansweredAttempts) : '',
  });
}
