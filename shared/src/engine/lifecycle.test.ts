import { describe, expect, it } from 'vitest';
import { P } from '../properties';
import { fixturePlaybook, HOUR, MIN, MON_10, only, rules, snap, written } from './fixtures';
import { onTimer } from './on-timer';
import { reconcile } from './reconcile';
import type { DealState } from './types';

const playbook = fixturePlaybook();
const ID = `d1:lead:${MON_10}`;
const entered = reconcile({ playbook, state: null, snapshot: snap(), now: MON_10 }).state!;
const ALL_TIMERS = [`${ID}:warning`, `${ID}:breach`, `${ID}:level:0`, `${ID}:level:1`].sort();

describe('deal deleted, merged or leaving the managed pipelines', () => {
  it('deleted: cancels timers and open tasks, SLA cancelled, no property writes', () => {
    const r = reconcile({ playbook, state: entered, snapshot: snap({ exists: false }), now: MON_10 + HOUR });
    expect(
      only(r, 'cancelTimer')
        .map((c) => c.timerId)
        .sort(),
    ).toEqual(ALL_TIMERS);
    expect(
      only(r, 'cancelTask')
        .map((c) => c.key)
        .sort(),
    ).toEqual([`${ID}:sla`, `${ID}:task:call`]);
    expect(only(r, 'completeTask')).toEqual([]);
    expect(only(r, 'setProperties')).toEqual([]);
    expect(only(r, 'recordHistory')[0]!.row).toMatchObject({
      direction: 'exit',
      slaOutcome: 'cancelled',
      toStage: null,
    });
    expect(r.state).toMatchObject({ closedReason: 'deleted', current: null });
    // Later reads of the deleted deal do nothing (one HubSpot shows again was restored: restore.test.ts).
    expect(
      reconcile({ playbook, state: r.state, snapshot: snap({ exists: false }), now: MON_10 + 2 * HOUR })
        .commands,
    ).toEqual([]);
  });

  it('merged: closed with reason merged', () => {
    const r = reconcile({
      playbook,
      state: entered,
      snapshot: snap({ exists: false, mergedInto: 'd2' }),
      now: MON_10 + HOUR,
    });
    expect(r.state!.closedReason).toBe('merged');
    expect(only(r, 'cancelTask')[0]!.reason).toContain('merged');
  });

  it('moved to an unmanaged pipeline: cancelled, status written, and picked up again on return', () => {
    const away = snap({ pipeline: 'other', stage: 'somewhere', stageEnteredAt: MON_10 + HOUR });
    const r = reconcile({ playbook, state: entered, snapshot: away, now: MON_10 + HOUR });
    expect(r.state).toMatchObject({ closedReason: 'unmanaged_pipeline', current: null });
    expect(written(r)[P.slaStatus]).toBe('cancelled');
    expect(only(r, 'cancelTimer')).toHaveLength(4);
    expect(reconcile({ playbook, state: r.state, snapshot: away, now: MON_10 + 2 * HOUR }).commands).toEqual(
      [],
    );
    const back = reconcile({
      playbook,
      state: r.state,
      snapshot: snap({ stageEnteredAt: MON_10 + 3 * HOUR }),
      now: MON_10 + 3 * HOUR,
    });
    expect(back.state!.closedReason).toBeNull();
    expect(back.state!.current!.entryId).toBe(`d1:lead:${MON_10 + 3 * HOUR}`);
    expect(rules(back)).toContain('deal.returned');
  });

  it('a stage that exists in the playbook but in another pipeline is unmanaged', () => {
    const r = reconcile({
      playbook,
      state: entered,
      snapshot: snap({ pipeline: 'other', stageEnteredAt: MON_10 + HOUR }),
      now: MON_10 + HOUR,
    });
    expect(r.state!.closedReason).toBe('unmanaged_pipeline');
  });
});

describe('closed stages', () => {
  const inLead = reconcile({
    playbook,
    state: null,
    snapshot: snap({ properties: { num_contacted_notes: '1' } }),
    now: MON_10,
  }).state!;

  it('lost: always allowed, the stage is exited with its outcome and no new clock starts', () => {
    const r = reconcile({
      playbook,
      state: inLead,
      snapshot: snap({ stage: 'lost', stageEnteredAt: MON_10 + HOUR }),
      now: MON_10 + HOUR,
    });
    expect(only(r, 'moveStage')).toEqual([]);
    expect(only(r, 'recordHistory')[0]!.row).toMatchObject({
      toStage: 'lost',
      slaOutcome: 'met',
      direction: 'forward',
    });
    expect(only(r, 'scheduleTimer')).toEqual([]);
    expect(only(r, 'createTask')).toEqual([]);
    expect(r.state).toMatchObject({ closedReason: 'closed_stage', current: { stage: 'lost', sla: null } });
    expect(written(r)[P.slaStatus]).toBe('met');
  });

  it('a breached stage closes as breached_closed', () => {
    const breached = onTimer({
      playbook,
      state: entered,
      snapshot: snap(),
      timer: { timerId: `${ID}:breach`, kind: 'breach', entryId: ID },
      now: MON_10 + 2 * HOUR,
    }).state!;
    const r = reconcile({
      playbook,
      state: breached,
      snapshot: snap({ stage: 'lost', stageEnteredAt: MON_10 + 3 * HOUR }),
      now: MON_10 + 3 * HOUR,
    });
    expect(only(r, 'recordHistory')[0]!.row.slaOutcome).toBe('breached');
    expect(written(r)[P.slaStatus]).toBe('breached_closed');
    // The escalation levels that had not fired yet go with the stage.
    expect(
      only(r, 'cancelTimer')
        .map((c) => c.timerId)
        .sort(),
    ).toEqual([`${ID}:level:0`, `${ID}:level:1`]);
  });

  it('reopening a closed deal is a backward move that starts a new visit', () => {
    const lost = reconcile({
      playbook,
      state: inLead,
      snapshot: snap({ stage: 'lost', stageEnteredAt: MON_10 + HOUR }),
      now: MON_10 + HOUR,
    }).state!;
    const r = reconcile({
      playbook,
      state: lost,
      snapshot: snap({ stageEnteredAt: MON_10 + 2 * HOUR }),
      now: MON_10 + 2 * HOUR,
    });
    expect(r.state!.closedReason).toBeNull();
    expect(r.state!.backflowCount).toBe(1);
    expect(only(r, 'scheduleTimer').length).toBeGreaterThan(0);
  });
});

describe('lost stored state', () => {
  it('restarts the counters from what Stagekeeper last wrote to HubSpot', () => {
    const props = { [P.breachCount]: '2', [P.backflowCount]: '3' };
    const r = reconcile({ playbook, state: null, snapshot: snap({ properties: props }), now: MON_10 });
    expect(r.state).toMatchObject({ breachCount: 2, backflowCount: 3 });
    // Same visit, same deterministic keys: the adapter's idempotency keys stop a second task.
    expect(only(r, 'createTask').map((t) => t.key)).toContain(`${ID}:sla`);
  });
});

describe('playbook version change', () => {
  it('recomputes a running clock under the new target, keeping consumed time and timer ids', () => {
    const v2 = fixturePlaybook((p) => {
      p.version = 2;
      p.pipelines[0]!.stages[0]!.sla!.target = '4h';
    });
    const r = reconcile({ playbook: v2, state: entered, snapshot: snap(), now: MON_10 + HOUR });
    const clock = r.state!.current!.sla!;
    expect(clock).toMatchObject({
      targetMs: 4 * HOUR,
      dueAt: MON_10 + 4 * HOUR,
      originalDueAt: MON_10 + 4 * HOUR,
    });
    expect(r.state!.playbookVersion).toBe(2);
    expect(
      only(r, 'scheduleTimer')
        .map((t) => t.timerId)
        .sort(),
    ).toEqual(ALL_TIMERS);
    expect(only(r, 'scheduleTimer').find((t) => t.kind === 'breach')!.fireAt).toBe(MON_10 + 4 * HOUR);
    expect(written(r)[P.slaDueAt]).toBe(String(MON_10 + 4 * HOUR));
    expect(rules(r)).toContain('playbook.recompute');
    expect(
      reconcile({ playbook: v2, state: r.state, snapshot: snap(), now: MON_10 + 2 * HOUR }).commands,
    ).toEqual([]);
  });

  it('cancels timers of escalation levels the new version removed', () => {
    const v2 = fixturePlaybook((p) => {
      p.version = 2;
      p.pipelines[0]!.stages[0]!.sla!.escalations = [];
    });
    const r = reconcile({ playbook: v2, state: entered, snapshot: snap(), now: MON_10 + HOUR });
    expect(
      only(r, 'cancelTimer')
        .map((c) => c.timerId)
        .sort(),
    ).toEqual([`${ID}:level:0`, `${ID}:level:1`]);
  });

  it('a paused clock is recomputed too, from the time it had consumed', () => {
    const paused = reconcile({
      playbook,
      state: entered,
      snapshot: snap({ properties: { waiting_on: 'patient' } }),
      now: MON_10 + 30 * MIN,
    }).state!;
    const v2 = fixturePlaybook((p) => {
      p.version = 2;
      p.pipelines[0]!.stages[0]!.sla!.target = '1h';
    });
    const r = reconcile({
      playbook: v2,
      state: paused,
      snapshot: snap({ properties: { waiting_on: 'patient' } }),
      now: MON_10 + HOUR,
    });
    expect(r.state!.current!.sla).toMatchObject({
      status: 'paused',
      targetMs: HOUR,
      dueAt: MON_10 + HOUR,
      consumedMs: 30 * MIN,
    });
    expect(only(r, 'scheduleTimer')).toEqual([]);
  });

  it('removing the SLA cancels the clock and its task; adding one starts it from the entry', () => {
    const none = fixturePlaybook((p) => {
      p.version = 2;
      delete p.pipelines[0]!.stages[0]!.sla;
    });
    const r = reconcile({ playbook: none, state: entered, snapshot: snap(), now: MON_10 + HOUR });
    expect(r.state!.current!.sla!.status).toBe('cancelled');
    expect(only(r, 'cancelTask').map((c) => c.key)).toEqual([`${ID}:sla`]);
    expect(only(r, 'cancelTimer')).toHaveLength(4);

    const v3 = fixturePlaybook((p) => {
      p.version = 3;
    });
    const noClock: DealState = structuredClone(
      reconcile({ playbook: none, state: null, snapshot: snap(), now: MON_10 }).state!,
    );
    const added = reconcile({ playbook: v3, state: noClock, snapshot: snap(), now: MON_10 + HOUR });
    expect(added.state!.current!.sla).toMatchObject({ status: 'running', dueAt: MON_10 + 2 * HOUR });
    expect(only(added, 'createTask').map((t) => t.key)).toEqual([`${ID}:sla`]);
  });

  it('keeps a breached clock as it was', () => {
    const breached = onTimer({
      playbook,
      state: entered,
      snapshot: snap(),
      timer: { timerId: `${ID}:breach`, kind: 'breach', entryId: ID },
      now: MON_10 + 2 * HOUR,
    }).state!;
    const v2 = fixturePlaybook((p) => {
      p.version = 2;
      p.pipelines[0]!.stages[0]!.sla!.target = '8h';
    });
    const r = reconcile({ playbook: v2, state: breached, snapshot: snap(), now: MON_10 + 2 * HOUR + MIN });
    expect(r.state!.current!.sla).toMatchObject({ status: 'breached', targetMs: 2 * HOUR });
    expect(rules(r)).toContain('playbook.recompute');
  });
});

describe('tasks orphaned by a crash, then the deal deleted or merged away (chaos finding "gone")', () => {
  // A job created a task in HubSpot and died before saving state; the deal was then deleted or merged. The
  // gateway's snapshot of a gone deal carries the task map's open tasks, and the gone path closes every one.
  const lost = `d1:intake:${MON_10 + HOUR}`;
  const tasks = {
    [`${lost}:sla`]: 'NOT_STARTED',
    [`${lost}:task:docs`]: 'COMPLETED',
    [`${ID}:sla`]: 'NOT_STARTED',
  } as const;

  it('deleted with state: the visit is closed out and the unknown open task cancelled too', () => {
    const r = reconcile({
      playbook,
      state: entered,
      snapshot: snap({ exists: false, tasks }),
      now: MON_10 + 2 * HOUR,
    });
    expect(
      only(r, 'cancelTask')
        .map((c) => c.key)
        .sort(),
    ).toEqual([`${lost}:sla`, `${ID}:sla`, `${ID}:task:call`].sort());
  });

  it('never stored (the first job died before saving): its open tasks are cancelled, nothing stored', () => {
    const r = reconcile({
      playbook,
      state: null,
      snapshot: snap({ exists: false, mergedInto: 'd2', tasks }),
      now: MON_10 + 2 * HOUR,
    });
    expect(r.state).toBeNull();
    expect(
      only(r, 'cancelTask')
        .map((c) => c.key)
        .sort(),
    ).toEqual([`${lost}:sla`, `${ID}:sla`].sort());
    expect(only(r, 'cancelTask')[0]!.reason).toContain('merged');
  });

  it('already closed as deleted: a task the closing job could not know of is still cancelled', () => {
    const gone = reconcile({
      playbook,
      state: entered,
      snapshot: snap({ exists: false }),
      now: MON_10 + HOUR,
    }).state!;
    const r = reconcile({
      playbook,
      state: gone,
      snapshot: snap({ exists: false, tasks: { [`${lost}:sla`]: 'NOT_STARTED' } }),
      now: MON_10 + 2 * HOUR,
    });
    expect(only(r, 'cancelTask').map((c) => c.key)).toEqual([`${lost}:sla`]);
    expect(r.state).toEqual(gone);
  });
});
