import { describe, expect, it } from 'vitest';
import type { PlaybookInput } from '../playbook/schema';
import { fixturePlaybook, HOUR, MIN, MON_10, only, snap, written } from './fixtures';
import { onTimer } from './on-timer';
import { reconcile } from './reconcile';
import { assignmentFor } from './routing';
import type { DealState } from './types';
import { P } from '../properties';

// Seed 000 lines 64-74 ("one stage, one accountable role") and issue 11 item 4: work follows the role.
// Fixture: stage "lead"/"intake" belong to role intake (101, 102, lead 100); "review" to care (201, lead 200).
const policy = (rule: NonNullable<PlaybookInput['assignment']>) =>
  fixturePlaybook((p) => {
    p.assignment = rule;
    // Lead -> Review straight away (the review stage's entry criterion is the only gate).
    p.pipelines[0]!.stages[0]!.exitCriteria = [];
  });

/** A deal owned by `owner` in Lead, then moved into Review (role care). */
function moveIntoReview(playbook: ReturnType<typeof policy>, owner: string | null, routing?: Parameters<typeof reconcile>[0]['routing']) {
  const first = reconcile({ playbook, state: null, snapshot: snap({ ownerId: owner }), now: MON_10 });
  return reconcile({
    playbook,
    state: first.state,
    snapshot: snap({ ownerId: owner, stage: 'review', stageEnteredAt: MON_10 + HOUR, properties: { docs_ok: 'true' } }),
    now: MON_10 + HOUR,
    routing,
  });
}

describe('work follows the accountable role', () => {
  it('assignDeal by round-robin: the deal goes to the member at the role cursor, with a note for the previous owner', () => {
    const pb = policy({ policy: 'assignDeal', pick: 'roundRobin' });
    const r = moveIntoReview(pb, '101', { cursors: { care: 7 } });
    expect(only(r, 'assignOwner')).toEqual([{ type: 'assignOwner', ownerId: '201', reason: expect.stringContaining('Review') }]);
    expect(only(r, 'advanceRoundRobin')).toEqual([{ type: 'advanceRoundRobin', role: 'care' }]);
    const entry = r.state!.current!;
    expect(entry.routing).toMatchObject({ mode: 'assignDeal', from: '101', to: '201', pick: 'roundRobin' });
    // The stage's tasks are created for the new owner straight away.
    expect(only(r, 'createTask').filter((t) => t.kind === 'sla').map((t) => t.ownerId)).toEqual(['201']);
    const note = only(r, 'addNote')[0]!;
    expect(note.key).toBe(`${entry.entryId}:handoff-note`);
    expect(note.body).toContain('Owner 101 handed the deal to 201');
    expect(r.state!.trail!.at(-1)).toMatchObject({ rule: 'routing.deal_assigned', at: MON_10 + HOUR });
    // Not a mid-stage handoff: no breach evidence, and HubSpot's echo of the new owner is not a new change.
    expect(entry.ownerChanges).toEqual([]);
    const echo = reconcile({
      playbook: pb,
      state: r.state,
      snapshot: snap({ ownerId: '201', stage: 'review', stageEnteredAt: MON_10 + HOUR, properties: { docs_ok: 'true' } }),
      now: MON_10 + HOUR + MIN,
    });
    expect(echo.commands.filter((c) => c.type === 'createTask' || c.type === 'assignOwner')).toEqual([]);
  });

  it('round-robin walks the members in turn as the cursor advances', () => {
    const pb = fixturePlaybook((p) => {
      p.assignment = { policy: 'assignDeal', pick: 'roundRobin' };
      p.roles[1]!.owners = ['201', '202', '203'];
      p.pipelines[0]!.stages[0]!.exitCriteria = [];
    });
    const picks = [0, 1, 2, 3].map((cursor) => only(moveIntoReview(pb, '101', { cursors: { care: cursor } }), 'assignOwner')[0]!.ownerId);
    expect(picks).toEqual(['201', '202', '203', '201']);
  });

  it('fewestOpenTasks asks for the counts first, then picks the least loaded member (ties: role order)', () => {
    const pb = fixturePlaybook((p) => {
      p.assignment = { policy: 'assignDeal', pick: 'fewestOpenTasks' };
      p.roles[1]!.owners = ['201', '202', '203'];
      p.pipelines[0]!.stages[0]!.exitCriteria = [];
    });
    expect(moveIntoReview(pb, '101').needsOpenTasksOf).toEqual(['201', '202', '203']);
    const r = moveIntoReview(pb, '101', { openTasks: { '201': 4, '202': 1, '203': 1 } });
    expect(r.needsOpenTasksOf).toBeUndefined();
    expect(only(r, 'assignOwner')[0]!.ownerId).toBe('202');
    expect(r.state!.current!.routing!.pick).toBe('fewestOpenTasks');
    expect(only(r, 'advanceRoundRobin')).toEqual([]);
  });

  it('assignTasks: the owner keeps the deal, the stage tasks and the warning go to the member', () => {
    const pb = fixturePlaybook((p) => {
      p.assignment = { policy: 'assignTasks', pick: 'roundRobin' };
      p.pipelines[0]!.stages[0]!.exitCriteria = [];
      // Staffed when the warning falls due (the fixture's evening calendar would hold it past the due time).
      p.roles[1]!.calendar = 'clinic';
    });
    const r = moveIntoReview(pb, '101');
    expect(only(r, 'assignOwner')).toEqual([]);
    expect(r.state!.current!.assignee).toBe('201');
    expect(only(r, 'createTask').filter((t) => t.kind === 'sla').map((t) => t.ownerId)).toEqual(['201']);
    expect(only(r, 'addNote')[0]!.body).toContain("Owner 101 keeps the deal; the stage's tasks went to 201");
    const entry = r.state!.current!;
    const warning = onTimer({
      playbook: pb,
      state: r.state,
      snapshot: snap({ ownerId: '101', stage: 'review', stageEnteredAt: MON_10 + HOUR, properties: { docs_ok: 'true' } }),
      timer: { timerId: `${entry.entryId}:warning`, kind: 'warning', entryId: entry.entryId },
      now: entry.sla!.warningAt,
    });
    expect(warning.decisions.map((d) => d.rule)).toContain('warning');
    expect(only(warning, 'createTask').map((t) => t.ownerId)).toEqual(['201']);
  });

  it('keeps the owner who holds the role, and the lead counts as holding it', () => {
    const pb = policy({ policy: 'assignDeal' });
    for (const owner of ['201', '200']) {
      const r = moveIntoReview(pb, owner);
      expect(only(r, 'assignOwner')).toEqual([]);
      expect(r.state!.current!.routing ?? null).toBeNull();
    }
  });

  it('no role member listed: the lead gets the deal', () => {
    const pb = fixturePlaybook((p) => {
      p.assignment = { policy: 'assignDeal' };
      p.roles[1] = { ...p.roles[1]!, owners: [], teams: ['999'] };
      p.pipelines[0]!.stages[0]!.exitCriteria = [];
    });
    const r = moveIntoReview(pb, '101');
    expect(only(r, 'assignOwner')[0]!.ownerId).toBe('200');
    expect(r.state!.current!.routing!.pick).toBe('lead');
  });

  it('a deal without owner is routed too, and no handoff note is written (nobody to tell)', () => {
    const r = moveIntoReview(policy({ policy: 'assignDeal' }), null);
    expect(only(r, 'assignOwner')[0]!.ownerId).toBe('201');
    expect(only(r, 'addNote')).toEqual([]);
  });

  it('keep (or no assignment section) changes nothing; a stage exception overrides the playbook rule', () => {
    expect(only(moveIntoReview(fixturePlaybook((p) => void (p.pipelines[0]!.stages[0]!.exitCriteria = [])), '101'), 'assignOwner')).toEqual([]);
    const pb = policy({ policy: 'assignDeal', stages: { review: { policy: 'keep' } } });
    expect(assignmentFor(pb, 'review')).toEqual({ policy: 'keep', pick: 'roundRobin', handoffNote: true });
    expect(assignmentFor(pb, 'intake')).toEqual({ policy: 'assignDeal', pick: 'roundRobin', handoffNote: true });
    expect(only(moveIntoReview(pb, '101'), 'assignOwner')).toEqual([]);
  });

  it('a deal first seen (install over existing deals, lost state) keeps its owner: only an observed entry is routed', () => {
    const pb = policy({ policy: 'assignDeal' });
    const r = reconcile({ playbook: pb, state: null, snapshot: snap({ ownerId: '101', stage: 'review', properties: { docs_ok: 'true' } }), now: MON_10 });
    expect(only(r, 'assignOwner')).toEqual([]);
    expect(r.state!.current!.routing ?? null).toBeNull();
  });

  it('the schema refuses an exception for an unknown stage', () => {
    expect(() => policy({ policy: 'assignDeal', stages: { nowhere: { policy: 'keep' } } })).toThrow(/unknown stage/);
  });
});

describe('conditional targets re-evaluated during the visit', () => {
  const playbook = fixturePlaybook();
  const ID = `d1:lead:${MON_10}`;
  const entered = reconcile({ playbook, state: null, snapshot: snap(), now: MON_10 }).state!;

  it('an urgency raised after entry tightens the clock: due, warning, timers and the SLA task move; the trail says why', () => {
    const r = reconcile({ playbook, state: entered, snapshot: snap({ properties: { urgency: 'urgent' } }), now: MON_10 + 10 * MIN });
    const clock = r.state!.current!.sla!;
    // 2 staffed hours -> 30 minutes from entry.
    expect(clock).toMatchObject({ targetMs: 30 * MIN, targetRule: 'overrides[0]', dueAt: MON_10 + 30 * MIN, consumedMs: 10 * MIN });
    expect(only(r, 'rescheduleTask')).toEqual([{ type: 'rescheduleTask', key: `${ID}:sla`, dueAt: MON_10 + 30 * MIN }]);
    expect(only(r, 'scheduleTimer').find((t) => t.kind === 'breach')!.fireAt).toBe(MON_10 + 30 * MIN);
    expect(written(r)[P.slaDueAt]).toBe(String(MON_10 + 30 * MIN));
    const trail = r.state!.trail!.at(-1)!;
    expect(trail).toMatchObject({ rule: 'sla.retargeted', at: MON_10 + 10 * MIN });
    expect(trail.detail).toContain('2h (default) -> 30m');
    // Nothing more happens while the condition stays as it is.
    const again = reconcile({ playbook, state: r.state, snapshot: snap({ properties: { urgency: 'urgent' } }), now: MON_10 + 12 * MIN });
    expect(again.commands).toEqual([]);
  });

  it('a tighter target already used up is due at the moment the condition is seen, not in the past', () => {
    const r = reconcile({ playbook, state: entered, snapshot: snap({ properties: { urgency: 'urgent' } }), now: MON_10 + 45 * MIN });
    expect(r.state!.current!.sla!.dueAt).toBe(MON_10 + 45 * MIN);
  });

  it('lowering the urgency relaxes the clock back to the default target, counted from entry', () => {
    const urgent = reconcile({ playbook, state: entered, snapshot: snap({ properties: { urgency: 'urgent' } }), now: MON_10 + 10 * MIN }).state!;
    const r = reconcile({ playbook, state: urgent, snapshot: snap({ properties: { urgency: 'normal' } }), now: MON_10 + 20 * MIN });
    expect(r.state!.current!.sla).toMatchObject({ targetRule: 'default', dueAt: MON_10 + 2 * HOUR });
  });

  it('a paused clock is re-targeted and stays paused', () => {
    const paused = reconcile({ playbook, state: entered, snapshot: snap({ properties: { waiting_on: 'patient' } }), now: MON_10 + 10 * MIN }).state!;
    const r = reconcile({ playbook, state: paused, snapshot: snap({ properties: { waiting_on: 'patient', urgency: 'urgent' } }), now: MON_10 + 40 * MIN });
    expect(r.state!.current!.sla).toMatchObject({ status: 'paused', targetMs: 30 * MIN, consumedMs: 10 * MIN });
    expect(only(r, 'scheduleTimer')).toEqual([]);
  });

  it('an urgency raised in the same read as a blocked move still tightens the clock of the visit that continues', () => {
    // Lead's exit criterion (a logged contact) is missing, so the move to Intake is reverted.
    const r = reconcile({
      playbook,
      state: entered,
      snapshot: snap({ stage: 'intake', stageEnteredAt: MON_10 + 10 * MIN, properties: { urgency: 'urgent', insurance_id: 'x' } }),
      now: MON_10 + 10 * MIN,
    });
    expect(only(r, 'moveStage')).toEqual([{ type: 'moveStage', toStage: 'lead', reason: 'gate_revert' }]);
    expect(r.state!.current!.sla).toMatchObject({ targetRule: 'overrides[0]', dueAt: MON_10 + 30 * MIN });
  });

  it('a met or breached clock is history and is not re-targeted', () => {
    const state: DealState = structuredClone(entered);
    state.current!.sla!.status = 'breached';
    const r = reconcile({ playbook, state, snapshot: snap({ properties: { urgency: 'urgent' } }), now: MON_10 + 10 * MIN });
    expect(r.state!.current!.sla!.targetRule).toBe('default');
  });
});
