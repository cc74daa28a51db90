import type { ClosureReason } from '../playbook/schema';
import { P } from '../properties';
import type { StageRef } from './lookup';
import type { DealSnapshot, DealState } from './types';

/**
 * The closure reason the deal's recorded outcomes already give, when the rep did not set one. Seed 003: "Closure
 * should not be based only on an agent's internal judgment. It should use recorded outcomes, plus documented
 * reasons when outcome data is missing." A visit that breached because the patient did not answer the logged
 * attempts (breach reason patient_unreachable) is a recorded "no response"; anything else needs the rep's reason.
 */
export function recordedClosureReason(
  state: DealState,
  to: StageRef,
  snapshot: DealSnapshot,
): ClosureReason | null {
  const reasons = to.stage.closureReasons;
  if (!reasons?.includes('no_response')) return null;
  const set = snapshot.properties[P.closureReason];
  if (set !== null && set !== undefined && set.trim() !== '') return null;
  return state.current?.breachReason === 'patient_unreachable' ? 'no_response' : null;
}
