import { describe, expect, it } from 'vitest';
import type { PlaybookInput } from '../playbook/schema';
import { fixturePlaybook, HOUR, MIN, MON_10, only, snap } from './fixtures';
import { onTimer } from './on-timer';
import { reconcile } from './reconcile';
import { assignmentFor } from './routing';

// Seed 000 lines 64-74 ("one stage, one accountable role") and issue 11 item 4: work follows the role.
// Fixture: stage "lead"/"intake" belong to role intake (101, 102, lead 100); "review" to care (201, lead 200).
const policy = (rule: NonNullable<PlaybookInput['assignment']>) =>
  fixturePlaybook((p) => {
    p.assignment = rule;
    // Lead -> Review straight away: a declared shortcut, so the review stage's entry criterion is the only gate.
    p.pipelines[0]!.stages[0]!.exitCriteria = [];
    p.pipelines[0]!.shortcuts = [{ from: 'lead', to: 'review' }];
  });

/** A deal owned by `owner` in Lead, then moved into Review (role care). */
function moveIntoReview(
  playbook: ReturnType<typeof policy>,
  owner: string | null,
  routing?: Parameters<typeof reconcile>[0]['routing'],
) {
  const first = reconcile({ playbook, state: null, snapshot: snap({ ownerId: owner }), now: MON_10 });
  return reconcile({
    playbook,
    state: first.state,
    snapshot: snap({
      ownerId: owner,
      stage: 'review',
      stageEnteredAt: MON_10 + HOUR,
      properties: { docs_ok: 'true' },
    }),
    now: MON_10 + HOUR,
    routing,
  });
}

describe('work follows the accountable role', () => {
  it('assignDeal by round-robin: the deal goes to the member at the role cursor, with a note for the previous owner', () => {
    const pb = policy({ policy: 'assignDeal', pick: 'roundRobin' });
    const r = moveIntoReview(pb, '101', { cursors: { care: 7 } });
    expect(only(r, 'assignOwner')).toEqual([
      { type: 'assignOwner', ownerId: '201', reason: expect.stringContaining('Review') },
    ]);
    expect(only(r, 'advanceRoundRobin')).toEqual([{ type: 'advanceRoundRobin', role: 'care' }]);
    const entry = r.state!.current!;
    expect(entry.routing).toMatchObject({ mode: 'assignDeal', from: '101', to: '201', pick: 'roundRobin' });
    // The stage's tasks are created for the new owner straight away.
    expect(
      only(r, 'createTask')
        .filter((t) => t.kind === 'sla')
        .map((t) => t.ownerId),
    ).toEqual(['201']);
    const note = only(r, 'addNote')[0]!;
    expect(note.key).toBe(`${entry.entryId}:handoff-note`);
    expect(note.body).toContain('Owner 101 handed the deal to 201');
    expect(r.state!.trail!.at(-1)).toMatchObject({ rule: 'routing.deal_assigned', at: MON_10 + HOUR });
    // Not a mid-stage handoff: no breach evidence, and HubSpot's echo of the new owner is not a new change.
    expect(entry.ownerChanges).toEqual([]);
    const echo = reconcile({
      playbook: pb,
      state: r.state,
      snapshot: snap({
        ownerId: '201',
        stage: 'review',
        stageEnteredAt: MON_10 + HOUR,
        properties: { docs_ok: 'true' },
      }),
      now: MON_10 + HOUR + MIN,
    });
    expect(echo.commands.filter((c) => c.type === 'createTask' || c.type === 'assignOwner')).toEqual([]);
  });

  it('round-robin walks the members in turn as the cursor advances', () => {
    const pb = fixturePlaybook((p) => {
      p.assignment = { policy: 'assignDeal', pick: 'roundRobin' };
      p.roles[1]!.owners = ['201', '202', '203'];
      p.pipelines[0]!.stages[0]!.exitCriteria = [];
      p.pipelines[0]!.shortcuts = [{ from: 'lead', to: 'review' }];
    });
    const picks = [0, 1, 2, 3].map(
      (cursor) => only(moveIntoReview(pb, '101', { cursors: { care: cursor } }), 'assignOwner')[0]!.ownerId,
    );
    expect(picks).toEqual(['201', '202', '203', '201']);
  });

  it('fewestOpenTasks asks for the counts first, then picks the least loaded member (ties: role order)', () => {
    const pb = fixturePlaybook((p) => {
      p.assignment = { policy: 'assignDeal', pick: 'fewestOpenTasks' };
      p.roles[1]!.owners = ['201', '202', '203'];
      p.pipelines[0]!.stages[0]!.exitCriteria = [];
      p.pipelines[0]!.shortcuts = [{ from: 'lead', to: 'review' }];
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
      p.pipelines[0]!.shortcuts = [{ from: 'lead', to: 'review' }];
      // Staffed when the warning falls due (the fixture's evening calendar would hold it past the due time).
      p.roles[1]!.calendar = 'clinic';
    });
    const r = moveIntoReview(pb, '101');
    expect(only(r, 'assignOwner')).toEqual([]);
    expect(r.state!.current!.assignee).toBe('201');
    expect(
      only(r, 'createTask')
        .filter((t) => t.kind === 'sla')
        .map((t) => t.ownerId),
    ).toEqual(['201']);
    expect(only(r, 'addNote')[0]!.body).toContain("Owner 101 keeps the deal; the stage's tasks went to 201");
    const entry = r.state!.current!;
    const warning = onTimer({
      playbook: pb,
      state: r.state,
      snapshot: snap({
        ownerId: '101',
        stage: 'review',
        stageEnteredAt: MON_10 + HOUR,
        properties: { docs_ok: 'true' },
      }),
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
      p.pipelines[0]!.shortcuts = [{ from: 'lead', to: 'review' }];
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
    const none = fixturePlaybook((p) => {
      p.pipelines[0]!.stages[0]!.exitCriteria = [];
      p.pipelines[0]!.shortcuts = [{ from: 'lead', to: 'review' }];
    });
    const moved = moveIntoReview(none, '101');
    expect(moved.state!.current!.stage).toBe('review');
    expect(only(moved, 'assignOwner')).toEqual([]);
    const pb = policy({ policy: 'assignDeal', stages: { review: { policy: 'keep' } } });
    expect(assignmentFor(pb, 'review')).toEqual({ policy: 'keep', pick: 'roundRobin', handoffNote: true });
    expect(assignmentFor(pb, 'intake')).toEqual({
      policy: 'assignDeal',
      pick: 'roundRobin',
      handoffNote: true,
    });
    expect(only(moveIntoReview(pb, '101'), 'assignOwner')).toEqual([]);
  });

  it('a deal first seen (install over existing deals, lost state) keeps its owner: only an observed entry is routed', () => {
    const pb = policy({ policy: 'assignDeal' });
    const r = reconcile({
      playbook: pb,
      state: null,
      snapshot: snap({ ownerId: '101', stage: 'review', properties: { docs_ok: 'true' } }),
      now: MON_10,
    });
    expect(only(r, 'assignOwner')).toEqual([]);
    expect(r.state!.current!.routing ?? null).toBeNull();
  });

  it('the schema refuses an exception for an unknown stage', () => {
    expect(() => policy({ policy: 'assignDeal', stages: { nowhere: { policy: 'keep' } } })).toThrow(
      /unknown stage/,
    );
  });
});
