import { describe, expect, it } from 'vitest';
import { P } from '../properties';
import { at, fixturePlaybook, HOUR, MIN, MON_10, only, rules, snap, written } from './fixtures';
import { reconcile } from './reconcile';
import type { DealSnapshot, DealState } from './types';

const playbook = fixturePlaybook();

function start(s: Partial<DealSnapshot> = {}, now = MON_10): DealState {
  return reconcile({ playbook, state: null, snapshot: snap(s), now }).state!;
}

const LEAD_ID = `d1:lead:${MON_10}`;
const T1 = MON_10 + HOUR; // within the lead SLA (due 12:00)

describe('stage exit on a forward move', () => {
  const state = start();
  const moved = snap({
    stage: 'intake',
    stageEnteredAt: T1,
    properties: { num_contacted_notes: '1', insurance_id: 'x' },
    tasks: { [`${LEAD_ID}:task:call`]: 'COMPLETED' },
  });
  const r = reconcile({ playbook, state, snapshot: moved, now: T1 + 2 * MIN });

  it('meets the SLA, completes the SLA task and cancels what is still open', () => {
    expect(only(r, 'completeTask')).toEqual([{ type: 'completeTask', key: `${LEAD_ID}:sla` }]);
    // The completed call is left alone; nothing else was open.
    expect(only(r, 'cancelTask').map((c) => c.key)).toEqual([]);
  });

  it('cancels every timer of the old entry', () => {
    expect(
      only(r, 'cancelTimer')
        .map((c) => c.timerId)
        .sort(),
    ).toEqual([`${LEAD_ID}:breach`, `${LEAD_ID}:level:0`, `${LEAD_ID}:level:1`, `${LEAD_ID}:warning`].sort());
  });

  it('records history with business time in stage and the exit instant HubSpot gave', () => {
    const [h] = only(r, 'recordHistory');
    expect(h!.row).toMatchObject({
      stage: 'lead',
      toStage: 'intake',
      direction: 'forward',
      slaOutcome: 'met',
      enteredAt: MON_10,
      exitedAt: T1,
      businessMs: HOUR,
      ownerRole: 'intake',
      ownerId: '101',
    });
  });

  it('opens the new entry', () => {
    expect(r.state!.current!.entryId).toBe(`d1:intake:${T1}`);
    expect(only(r, 'createTask').map((t) => t.key)).toContain(`d1:intake:${T1}:sla`);
    expect(written(r)[P.slaStatus]).toBe('running');
  });

  it('cancels open tasks that were not completed, with a reason', () => {
    const r2 = reconcile({ playbook, state, snapshot: { ...moved, tasks: {} }, now: T1 });
    const cancel = only(r2, 'cancelTask');
    expect(cancel.map((c) => c.key)).toEqual([`${LEAD_ID}:task:call`]);
    expect(cancel[0]!.reason).toMatch(/moved to Intake/);
  });

  it('detects a breach at exit when the stage was left after its due time', () => {
    const late = { ...moved, stageEnteredAt: MON_10 + 3 * HOUR };
    const r3 = reconcile({ playbook, state, snapshot: late, now: late.stageEnteredAt! });
    expect(only(r3, 'recordHistory')[0]!.row).toMatchObject({
      slaOutcome: 'breached',
      breachReason: expect.any(String),
    });
    expect(r3.state!.breachCount).toBe(1);
    expect(only(r3, 'completeTask')).toEqual([]);
    expect(only(r3, 'cancelTask').map((c) => c.key)).toContain(`${LEAD_ID}:sla`);
    expect(rules(r3)).toContain('breach.detected_at_exit');
  });
});

describe('gate: revert', () => {
  const state = start();
  // Skips to intake without a logged contact and without the insurance id.
  const blocked = snap({ stage: 'intake', stageEnteredAt: T1 });
  const r = reconcile({ playbook, state, snapshot: blocked, now: T1 + MIN });

  it('moves the deal back and names each missing item by label', () => {
    expect(only(r, 'moveStage')).toEqual([{ type: 'moveStage', toStage: 'lead', reason: 'gate_revert' }]);
    const [task] = only(r, 'createTask');
    expect(task).toMatchObject({ kind: 'remediation', ownerId: '101' });
    expect(task!.subject).toContain('First contact logged');
    expect(task!.subject).toContain('Insurance id');
    expect(written(r)).toEqual({
      [P.gateStatus]: 'blocked_reverted',
      [P.gateMissing]: 'First contact logged; Insurance id',
    });
  });

  it('keeps the original clock running: no exit, no history, no new entry', () => {
    expect(r.state!.current!.entryId).toBe(LEAD_ID);
    expect(only(r, 'recordHistory')).toEqual([]);
    expect(only(r, 'cancelTimer')).toEqual([]);
    expect(r.state!.backflowCount).toBe(0);
  });

  it('recognises HubSpot echoing the revert with a new entry time', () => {
    const echo = snap({ stage: 'lead', stageEnteredAt: T1 + 2 * MIN });
    const e = reconcile({ playbook, state: r.state, snapshot: echo, now: T1 + 3 * MIN });
    expect(e.commands).toEqual([]);
    expect(e.state!.current!.entryId).toBe(LEAD_ID);
    expect(e.state!.current!.sla!.dueAt).toBe(state.current!.sla!.dueAt);
    expect(e.state!.gate.pendingStage).toBeNull();
    expect(rules(e)).toContain('gate.echo');
    // Replaying the echo, or the blocked move itself, changes nothing.
    expect(reconcile({ playbook, state: e.state, snapshot: echo, now: T1 + 9 * MIN }).commands).toEqual([]);
    expect(reconcile({ playbook, state: e.state, snapshot: blocked, now: T1 + 9 * MIN }).commands).toEqual(
      [],
    );
    // Later, a complete forward move goes through and clears the gate.
    const ok = snap({
      stage: 'intake',
      stageEnteredAt: T1 + 20 * MIN,
      properties: { num_contacted_notes: '2', insurance_id: 'x' },
    });
    const o = reconcile({ playbook, state: e.state, snapshot: ok, now: T1 + 21 * MIN });
    expect(only(o, 'recordHistory')[0]!.row).toMatchObject({
      stage: 'lead',
      enteredAt: MON_10,
      slaOutcome: 'met',
    });
    expect(written(o)[P.gateStatus]).toBe('clear');
    // The gate passed, so the remediation task's gap is closed: completed, not cancelled.
    expect(only(o, 'completeTask').map((c) => c.key)).toContain(only(r, 'createTask')[0]!.key);
  });

  it('does nothing twice for a duplicate of the blocked snapshot', () => {
    expect(reconcile({ playbook, state: r.state, snapshot: blocked, now: T1 + 2 * MIN }).commands).toEqual(
      [],
    );
  });
});

describe('gate: remediation stage', () => {
  const intakeAt = T1;
  const state = reconcile({
    playbook,
    state: start(),
    snapshot: snap({
      stage: 'intake',
      stageEnteredAt: intakeAt,
      properties: { num_contacted_notes: '1', insurance_id: 'x' },
    }),
    now: intakeAt,
  }).state!;
  const intakeId = `d1:intake:${intakeAt}`;
  const ready = {
    num_contacted_notes: '1',
    insurance_id: 'x',
    intake_form_at: '1772470800000',
  };
  const toReview = snap({
    stage: 'review',
    stageEnteredAt: intakeAt + HOUR,
    properties: ready, // docs_ok missing
    tasks: { [`${intakeId}:task:consent`]: 'COMPLETED' },
  });
  const r = reconcile({ playbook, state, snapshot: toReview, now: intakeAt + HOUR });

  it('routes the deal to the remediation stage named on the target stage', () => {
    expect(only(r, 'moveStage')).toEqual([{ type: 'moveStage', toStage: 'fix', reason: 'gate_remediation' }]);
    expect(written(r)).toEqual({
      [P.gateStatus]: 'blocked_remediation',
      [P.gateMissing]: 'Documents received',
    });
    expect(r.state!.gate.pendingStage).toBe('fix');
  });

  it('enters the remediation stage as a normal entry, not counted as backflow, keeping its task', () => {
    const arrive = snap({
      stage: 'fix',
      stageEnteredAt: intakeAt + HOUR + MIN,
      properties: ready,
      tasks: toReview.tasks,
    });
    const e = reconcile({ playbook, state: r.state, snapshot: arrive, now: intakeAt + HOUR + MIN });
    expect(e.state!.current!.stage).toBe('fix');
    expect(e.state!.backflowCount).toBe(0);
    expect(only(e, 'recordHistory')[0]!.row).toMatchObject({
      stage: 'intake',
      toStage: 'fix',
      slaOutcome: 'met',
    });
    const remediationKey = only(r, 'createTask')[0]!.key;
    expect(e.state!.current!.tasks.map((t) => t.key)).toContain(remediationKey);
    expect(only(e, 'cancelTask').map((c) => c.key)).not.toContain(remediationKey);
    expect(only(e, 'createTask').map((t) => t.key)).toContain(`d1:fix:${intakeAt + HOUR + MIN}:sla`);
    expect(written(e)[P.gateStatus]).toBeUndefined();
    expect(e.state!.gate.status).toBe('blocked_remediation');
  });
});

describe('backward moves', () => {
  it('are allowed, counted and recorded as backward', () => {
    const inIntake = reconcile({
      playbook,
      state: start(),
      snapshot: snap({
        stage: 'intake',
        stageEnteredAt: T1,
        properties: { num_contacted_notes: '1', insurance_id: 'x' },
      }),
      now: T1,
    }).state!;
    const back = snap({ stage: 'lead', stageEnteredAt: T1 + HOUR });
    const r = reconcile({ playbook, state: inIntake, snapshot: back, now: T1 + HOUR });
    expect(only(r, 'moveStage')).toEqual([]);
    expect(r.state!.backflowCount).toBe(1);
    expect(written(r)[P.backflowCount]).toBe('1');
    expect(only(r, 'recordHistory')[0]!.row.direction).toBe('backward');
    expect(r.state!.current!.entryId).toBe(`d1:lead:${T1 + HOUR}`);
  });
});

describe('owner changes', () => {
  it('are kept as handoff evidence and give the new owner a handoff task', () => {
    const state = start();
    const r = reconcile({ playbook, state, snapshot: snap({ ownerId: '102' }), now: MON_10 + 10 * MIN });
    expect(r.state!.current!.ownerChanges).toEqual([{ at: MON_10 + 10 * MIN, from: '101', to: '102' }]);
    const [handoff] = only(r, 'createTask');
    expect(handoff).toMatchObject({ kind: 'handoff', ownerId: '102', key: `${LEAD_ID}:handoff:1` });
    expect(handoff!.body).toContain('First call');
    expect(rules(r)).toContain('owner.changed');
    expect(
      reconcile({ playbook, state: r.state, snapshot: snap({ ownerId: '102' }), now: MON_10 + HOUR })
        .commands,
    ).toEqual([]);
  });

  it('record an unassignment without a task', () => {
    const r = reconcile({ playbook, state: start(), snapshot: snap({ ownerId: null }), now: MON_10 + MIN });
    expect(r.state!.current!.ownerChanges).toHaveLength(1);
    expect(only(r, 'createTask')).toEqual([]);
  });
});

describe('pause and resume', () => {
  const state = start();
  const pausedAt = MON_10 + 30 * MIN;
  const paused = reconcile({
    playbook,
    state,
    snapshot: snap({ properties: { waiting_on: 'patient' } }),
    now: pausedAt,
  });

  it('pauses while a pause condition holds and cancels the timers', () => {
    expect(paused.state!.current!.sla!.status).toBe('paused');
    expect(only(paused, 'cancelTimer')).toHaveLength(4);
    expect(written(paused)).toEqual({ [P.slaStatus]: 'paused' });
  });

  it('resumes with the due time moved by the paused business time, same timer ids', () => {
    // Paused 10:30 Monday -> resumed 10:00 Tuesday: 6.5 staffed hours paused (overnight is not staffed).
    const resumeAt = at('2026-03-03T10:00:00-05:00');
    const r = reconcile({
      playbook,
      state: paused.state,
      snapshot: snap({ properties: { waiting_on: '' } }),
      now: resumeAt,
    });
    const clock = r.state!.current!.sla!;
    expect(clock.status).toBe('running');
    expect(clock.originalDueAt).toBe(MON_10 + 2 * HOUR);
    // 30 min consumed before the pause, 90 min left from Tuesday 10:00.
    expect(clock.dueAt).toBe(resumeAt + 90 * MIN);
    const ids = only(r, 'scheduleTimer')
      .map((t) => t.timerId)
      .sort();
    expect(ids).toEqual(
      only(reconcile({ playbook, state: null, snapshot: snap(), now: MON_10 }), 'scheduleTimer')
        .map((t) => t.timerId)
        .sort(),
    );
    expect(written(r)).toMatchObject({ [P.slaStatus]: 'running', [P.slaDueAt]: String(resumeAt + 90 * MIN) });
    // The SLA task is due at the deadline, so it moves too.
    const slaKey = r.state!.current!.tasks.find((t) => t.kind === 'sla')!.key;
    expect(only(r, 'rescheduleTask')).toEqual([
      { type: 'rescheduleTask', key: slaKey, dueAt: resumeAt + 90 * MIN },
    ]);
  });
});

describe('idempotency', () => {
  it('returns no commands for the same state and snapshot', () => {
    const s = snap({ properties: { num_contacted_notes: '0' } });
    const first = reconcile({ playbook, state: null, snapshot: s, now: MON_10 });
    expect(first.commands.length).toBeGreaterThan(0);
    const again = reconcile({ playbook, state: first.state, snapshot: s, now: MON_10 + 40 * MIN });
    expect(again.commands).toEqual([]);
    expect(again.state).toEqual(first.state);
  });

  it('ignores a snapshot older than the stored visit', () => {
    const moved = reconcile({
      playbook,
      state: start(),
      snapshot: snap({
        stage: 'intake',
        stageEnteredAt: T1,
        properties: { num_contacted_notes: '1', insurance_id: 'x' },
      }),
      now: T1,
    });
    const stale = reconcile({ playbook, state: moved.state, snapshot: snap(), now: T1 + MIN });
    expect(stale.commands).toEqual([]);
    expect(stale.state).toEqual(moved.state);
    expect(rules(stale)).toContain('snapshot.stale');
  });
});

describe('tasks orphaned by a crash between the HubSpot write and the state save', () => {
  // A job created the intake entry's SLA task, died before saving state, and the deal moved on before the retry:
  // the stored state still says "lead", HubSpot says "review", and the intake task is open in HubSpot.
  const state = start();
  const lostEntry = `d1:intake:${T1}`;
  const snapshot = snap({
    stage: 'lead',
    stageEnteredAt: MON_10,
    tasks: {
      [`${lostEntry}:sla`]: 'NOT_STARTED',
      [`${lostEntry}:task:docs`]: 'COMPLETED',
      [`${LEAD_ID}:sla`]: 'NOT_STARTED',
    },
  });
  const r = reconcile({ playbook, state, snapshot, now: T1 + 5 * MIN });

  it('cancels open tasks of visits the state does not know, and only those', () => {
    expect(only(r, 'cancelTask')).toEqual([
      { type: 'cancelTask', key: `${lostEntry}:sla`, reason: 'the stage visit it was created for has ended' },
    ]);
  });

  it('is a no-op once HubSpot shows them closed', () => {
    const closed = snap({ ...snapshot, tasks: { ...snapshot.tasks, [`${lostEntry}:sla`]: 'COMPLETED' } });
    expect(reconcile({ playbook, state: r.state, snapshot: closed, now: T1 + 6 * MIN }).commands).toEqual([]);
  });
});
