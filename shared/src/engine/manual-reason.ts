import type { BreachReason, Playbook } from '../playbook/schema';
import { P } from '../properties';
import { Effects } from './effects';
import type { DealState, EngineResult } from './types';

export type ManualReasonInput = { playbook: Playbook; state: DealState; reason: BreachReason; now: number };

/**
 * A rep's reason for the latest breach, from the deal card. It is kept on the visit so inference at a later
 * firing never replaces it; a breach in an earlier stage only gets its properties rewritten.
 */
export function setBreachReason({ state, reason }: ManualReasonInput): EngineResult {
  const fx = new Effects();
  const breachEntry = state.lastBreachEntryId ?? null;
  if (breachEntry === null) {
    fx.decide('manual_reason.no_breach', 'the deal has no breach to give a reason for');
    return fx.result(state);
  }
  const s = structuredClone(state);
  const entry = s.current?.entryId === breachEntry ? s.current : null;
  if (entry) {
    if (entry.breachReason === reason && entry.breachReasonSource === 'manual') {
      fx.decide('manual_reason.unchanged', `reason is already "${reason}" (manual)`);
      return fx.result(state);
    }
    entry.breachEvidence = [`set by a rep (was ${entry.breachReason ?? 'none'}, ${entry.breachReasonSource ?? 'no source'})`];
    entry.breachReason = reason;
    entry.breachReasonSource = 'manual';
  }
  fx.set({ [P.breachReason]: reason, [P.breachReasonSource]: 'manual' });
  fx.decide('manual_reason', `breach reason set to "${reason}" by a rep${entry ? '' : ' (breach in an earlier stage)'}`);
  return fx.result(s);
}
