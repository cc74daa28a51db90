import { describe, expect, it } from 'vitest';
import { P } from '../properties';
import { fixturePlaybook, HOUR, MIN, MON_10, only, snap, written } from './fixtures';
import { reconcile } from './reconcile';
import type { DealState } from './types';

// Issue 11 item 3 / seed 000 line 83: an urgency raised after entry tightens the clock (engine/retarget.ts).
describe('conditional targets re-evaluated during the visit', () => {
  const playbook = fixturePlaybook();
  const ID = `d1:lead:${MON_10}`;
  const entered = reconcile({ playbook, state: null, snapshot: snap(), now: MON_10 }).state!;

  it('an urgency raised after entry tightens the clock: due, warning, timers and the SLA task move; the trail says why', () => {
    const r = reconcile({
      playbook,
      state: entered,
      snapshot: snap({ properties: { urgency: 'urgent' } }),
      now: MON_10 + 10 * MIN,
    });
    const clock = r.state!.current!.sla!;
    // 2 staffed hours -> 30 minutes from entry.
    expect(clock).toMatchObject({
      targetMs: 30 * MIN,
      targetRule: 'overrides[0]',
      dueAt: MON_10 + 30 * MIN,
      consumedMs: 10 * MIN,
    });
    expect(only(r, 'rescheduleTask')).toEqual([
      { type: 'rescheduleTask', key: `${ID}:sla`, dueAt: MON_10 + 30 * MIN },
    ]);
    expect(only(r, 'scheduleTimer').find((t) => t.kind === 'breach')!.fireAt).toBe(MON_10 + 30 * MIN);
    expect(written(r)[P.slaDueAt]).toBe(String(MON_10 + 30 * MIN));
    const trail = r.state!.trail!.at(-1)!;
    expect(trail).toMatchObject({ rule: 'sla.retargeted', at: MON_10 + 10 * MIN });
    expect(trail.detail).toContain('2h (default) -> 30m');
    // Nothing more happens while the condition stays as it is.
    const again = reconcile({
      playbook,
      state: r.state,
      snapshot: snap({ properties: { urgency: 'urgent' } }),
      now: MON_10 + 12 * MIN,
    });
    expect(again.commands).toEqual([]);
  });

  it('a tighter target already used up is due at the moment the condition is seen, not in the past', () => {
    const r = reconcile({
      playbook,
      state: entered,
      snapshot: snap({ properties: { urgency: 'urgent' } }),
      now: MON_10 + 45 * MIN,
    });
    expect(r.state!.current!.sla!.dueAt).toBe(MON_10 + 45 * MIN);
  });

  it('lowering the urgency relaxes the clock back to the default target, counted from entry', () => {
    const urgent = reconcile({
      playbook,
      state: entered,
      snapshot: snap({ properties: { urgency: 'urgent' } }),
      now: MON_10 + 10 * MIN,
    }).state!;
    const r = reconcile({
      playbook,
      state: urgent,
      snapshot: snap({ properties: { urgency: 'normal' } }),
      now: MON_10 + 20 * MIN,
    });
    expect(r.state!.current!.sla).toMatchObject({ targetRule: 'default', dueAt: MON_10 + 2 * HOUR });
  });

  it('a paused clock is re-targeted and stays paused', () => {
    const paused = reconcile({
      playbook,
      state: entered,
      snapshot: snap({ properties: { waiting_on: 'patient' } }),
      now: MON_10 + 10 * MIN,
    }).state!;
    const r = reconcile({
      playbook,
      state: paused,
      snapshot: snap({ properties: { waiting_on: 'patient', urgency: 'urgent' } }),
      now: MON_10 + 40 * MIN,
    });
    expect(r.state!.current!.sla).toMatchObject({
      status: 'paused',
      targetMs: 30 * MIN,
      consumedMs: 10 * MIN,
    });
    expect(only(r, 'scheduleTimer')).toEqual([]);
  });

  it('an urgency raised in the same read as a blocked move still tightens the clock of the visit that continues', () => {
    // Lead's exit criterion (a logged contact) is missing, so the move to Intake is reverted.
    const r = reconcile({
      playbook,
      state: entered,
      snapshot: snap({
        stage: 'intake',
        stageEnteredAt: MON_10 + 10 * MIN,
        properties: { urgency: 'urgent', insurance_id: 'x' },
      }),
      now: MON_10 + 10 * MIN,
    });
    expect(only(r, 'moveStage')).toEqual([{ type: 'moveStage', toStage: 'lead', reason: 'gate_revert' }]);
    expect(r.state!.current!.sla).toMatchObject({ targetRule: 'overrides[0]', dueAt: MON_10 + 30 * MIN });
  });

  it('a met or breached clock is history and is not re-targeted', () => {
    const state: DealState = structuredClone(entered);
    state.current!.sla!.status = 'breached';
    const r = reconcile({
      playbook,
      state,
      snapshot: snap({ properties: { urgency: 'urgent' } }),
      now: MON_10 + 10 * MIN,
    });
    expect(r.state!.current!.sla!.targetRule).toBe('default');
  });
});
