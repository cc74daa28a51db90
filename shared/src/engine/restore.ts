import type { Effects } from './effects';
import { CLEAR_GATE } from './gate';
import type { DealSnapshot, DealState } from './types';

/** A deal Stagekeeper closed as deleted that HubSpot has again: restored (HubSpot keeps deleted deals 90 days). */
export const wasRestored = (state: DealState | null, snapshot: DealSnapshot): state is DealState =>
  state?.closedReason === 'deleted' && snapshot.exists;

/**
 * The state a restored deal is taken up again from. The deletion ended its visit (clock cancelled, tasks
 * cancelled, timers removed), and without this the deal stayed closed for good: no clock, no task, no gate, its
 * written-back status still "running". Restored, it is read as a deal first seen: its current stage as HubSpot
 * shows it, from HubSpot's entry time (the time deleted counts, as the patient waited through it), without a gate
 * check (the move into it was checked, or predates it); the visit has the same entry and so the same task keys,
 * and a create of a task the deletion cancelled reopens it (gateway/task-reopening.ts). What the deal's history
 * holds carries over: the counters, the latest breach, merges, the trail.
 */
export function restoredState(fx: Effects, state: DealState, now: number): DealState {
  const s: DealState = {
    ...structuredClone(state),
    current: null,
    gate: { ...CLEAR_GATE },
    closedReason: null,
    pendingOwner: null,
  };
  fx.record(
    s,
    now,
    'deal.restored',
    'HubSpot restored the deleted deal: its current stage is taken up again',
  );
  return s;
}
