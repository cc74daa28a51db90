import type { BreachReason, Playbook } from '../playbook/schema';
import { P } from '../properties';
import { Effects } from './effects';
import type { DealState, EngineResult } from './types';

export type ManualReasonInput = { playbook: Playbook; state: DealState; reason: BreachReason; now: number };

/**
 * A rep's breach reason from the deal card. It is kept on the visit with source "manual", so inference at a
 * breach never replaces it. What it applies to, in order:
 * - the current visit's breach: stored and written;
 * - an earlier stage's breach (the latest one, which the card shows): only the properties are rewritten;
 * - no breach yet but a running clock: stored for this visit and written if and when it breaches (a rep who
 *   already knows the patient is unreachable should not be contradicted by inference).
 */
export function setBreachReason({ state, reason }: ManualReasonInput): EngineResult {
  const fx = new Effects();
  const s = structuredClone(state);
  const entry = s.current;
  const breachedHere =
    entry !== null && entry.sla?.status === 'breached' && s.lastBreachEntryId === entry.entryId;
  const earlier = !breachedHere && (s.lastBreachEntryId ?? null) !== null;
  const live = entry?.sla && (entry.sla.status === 'running' || entry.sla.status === 'paused');

  if (!breachedHere && !earlier && !live) {
    fx.decide('manual_reason.no_breach', 'the deal has no breach and no running clock to give a reason for');
    return fx.result(state);
  }
  if (entry && !earlier) {
    if (entry.breachReason === reason && entry.breachReasonSource === 'manual') {
      fx.decide('manual_reason.unchanged', `reason is already "${reason}" (manual)`);
      return fx.result(state);
    }
    entry.breachEvidence = [
      `set by a rep (was ${entry.breachReason ?? 'none'}, ${entry.breachReasonSource ?? 'no source'})`,
    ];
    entry.breachReason = reason;
    entry.breachReasonSource = 'manual';
  }
  if (breachedHere || earlier) {
    fx.set({ [P.breachReason]: reason, [P.breachReasonSource]: 'manual' });
    fx.decide(
      'manual_reason',
      `breach reason set to "${reason}" by a rep${earlier ? ' (breach in an earlier stage)' : ''}`,
    );
  } else {
    fx.decide('manual_reason.preset', `"${reason}" will be the reason if stage "${entry!.stage}" breaches`);
  }
  return fx.result(s);
}
