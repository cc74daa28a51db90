import type { Playbook } from '../playbook/schema';
import { P } from '../properties';
import { Effects } from './effects';
import { cancelEventClocks } from './event-clocks';
import { CLEAR_GATE } from './gate';
import { exitStage } from './stage-exit';
import type { DealSnapshot, DealState } from './types';

export type ClosedReason = 'deleted' | 'merged' | 'unmanaged_pipeline';

const WHY: Record<ClosedReason, string> = {
  deleted: 'the deal was deleted',
  merged: 'the deal was merged into another deal',
  unmanaged_pipeline: 'the deal left the pipelines this playbook manages',
};

/**
 * Stops all work on a deal that no longer needs it: the visit ends with its SLA cancelled (a breach stays a
 * breach), open tasks are cancelled and timers removed. A deleted or merged deal gets no property writes: it
 * is gone, and the surviving deal of a merge has its own state.
 */
export function closeOut(
  fx: Effects,
  state: DealState,
  playbook: Playbook,
  snapshot: DealSnapshot,
  reason: ClosedReason,
  exitAt: number,
  now: number,
): void {
  const why = WHY[reason] + (reason === 'merged' && snapshot.mergedInto ? ` (${snapshot.mergedInto})` : '');
  const outcome = state.current
    ? exitStage(fx, state, playbook, snapshot, exitAt, null, 'exit', 'cancelled', why, now)
    : 'none';
  cancelEventClocks(fx, state, playbook, snapshot, now, why, reason === 'unmanaged_pipeline');
  if (state.gate.taskKey)
    fx.push({ type: 'cancelTask', key: state.gate.taskKey, reason: `${why}; this task no longer applies` });
  state.gate = { ...CLEAR_GATE };
  state.current = null;
  state.closedReason = reason;
  if (reason === 'unmanaged_pipeline') {
    fx.set({
      [P.slaStatus]: outcome === 'breached' ? 'breached_closed' : outcome === 'none' ? '' : 'cancelled',
      [P.gateStatus]: 'clear',
      [P.gateMissing]: '',
    });
  }
  fx.decide('deal.closed', `${why}: timers and open tasks cancelled, SLA ${outcome}`);
}
