import { describe, expect, it } from 'vitest';
import { P } from '../properties';
import { fixturePlaybook, HOUR, MIN, MON_10, only, rules, snap, written } from './fixtures';
import { setBreachReason } from './manual-reason';
import { onTimer } from './on-timer';
import { reconcile } from './reconcile';
import type { DealSnapshot, DealState, TimerFiring } from './types';

const playbook = fixturePlaybook();
const ID = `d1:lead:${MON_10}`;
const base = snap({ properties: { num_contacted_notes: '0' } });
const entered = reconcile({ playbook, state: null, snapshot: base, now: MON_10 }).state!;

const warning: TimerFiring = { timerId: `${ID}:warning`, kind: 'warning', entryId: ID };
const breach: TimerFiring = { timerId: `${ID}:breach`, kind: 'breach', entryId: ID };
const level = (i: number): TimerFiring => ({
  timerId: `${ID}:level:${i}`,
  kind: 'escalation',
  level: i,
  entryId: ID,
});

const fire = (state: DealState | null, timer: TimerFiring, now: number, snapshot: DealSnapshot = base) =>
  onTimer({ playbook, state, snapshot, timer, now });

describe('warning timer', () => {
  const r = fire(entered, warning, MON_10 + 1.5 * HOUR);

  it('gives the owner a warning task and sets the status', () => {
    const [task] = only(r, 'createTask');
    expect(task).toMatchObject({
      kind: 'warning',
      key: `${ID}:warning`,
      ownerId: '101',
      dueAt: MON_10 + 2 * HOUR,
      priority: 'HIGH',
    });
    expect(written(r)).toEqual({ [P.slaStatus]: 'warning' });
    expect(r.state!.current!.sla!.warned).toBe(true);
  });

  it('does nothing the second time', () => {
    const again = fire(r.state, warning, MON_10 + 1.5 * HOUR + 5);
    expect(again.commands).toEqual([]);
    expect(again.state).toEqual(r.state);
  });

  it('is a no-op with a decision when its entry is no longer current', () => {
    const moved = reconcile({
      playbook,
      state: entered,
      snapshot: snap({ stage: 'lead', stageEnteredAt: MON_10 + HOUR }), // re-entered: a new visit
      now: MON_10 + HOUR,
    }).state!;
    const stale = fire(moved, warning, MON_10 + 1.5 * HOUR, snap({ stageEnteredAt: MON_10 + HOUR }));
    expect(stale.commands).toEqual([]);
    expect(rules(stale)).toContain('timer.stale');
  });

  it('is a no-op while the clock is paused', () => {
    const pausedSnap = snap({ properties: { waiting_on: 'patient' } });
    const paused = reconcile({ playbook, state: entered, snapshot: pausedSnap, now: MON_10 + HOUR }).state!;
    const r2 = fire(paused, warning, MON_10 + 1.5 * HOUR, pausedSnap);
    expect(r2.commands).toEqual([]);
    expect(rules(r2)).toContain('timer.inactive');
  });

  it('catches up with HubSpot first: a snapshot that pauses the clock disarms the firing', () => {
    const r2 = fire(entered, warning, MON_10 + 1.5 * HOUR, snap({ properties: { waiting_on: 'patient' } }));
    expect(only(r2, 'createTask')).toEqual([]);
    expect(r2.state!.current!.sla!.status).toBe('paused');
  });

  it('re-arms instead of firing when a job from an older schedule fires early', () => {
    const r2 = fire(entered, warning, MON_10 + HOUR);
    expect(only(r2, 'createTask')).toEqual([]);
    expect(only(r2, 'scheduleTimer')).toEqual([
      {
        type: 'scheduleTimer',
        timerId: warning.timerId,
        kind: 'warning',
        entryId: ID,
        fireAt: MON_10 + 1.5 * HOUR,
      },
    ]);
  });
});

describe('breach timer', () => {
  it('marks the breach at the due time, counts it and infers the reason with evidence', () => {
    const r = fire(entered, breach, MON_10 + 2 * HOUR + 3 * MIN);
    const entry = r.state!.current!;
    expect(entry.sla).toMatchObject({ status: 'breached', breachedAt: MON_10 + 2 * HOUR });
    expect(r.state!.breachCount).toBe(1);
    // Default precedence: no contact attempts, an owner of the role, no load known, so the unmet data criterion decides.
    expect(entry.breachReason).toBe('missing_data');
    expect(entry.breachReasonSource).toBe('inferred');
    expect(entry.breachEvidence).toEqual(['data criterion unmet: First contact logged']);
    expect(written(r)).toEqual({
      [P.slaStatus]: 'breached',
      [P.slaBreachedAt]: String(MON_10 + 2 * HOUR),
      [P.breachReason]: 'missing_data',
      [P.breachReasonSource]: 'inferred',
      [P.breachStage]: 'lead',
      [P.breachCount]: '1',
      [P.breachEvidence]: 'data criterion unmet: First contact logged',
      [P.breachOwnerOpenTasks]: '',
      [P.breachUnansweredAttempts]: '0',
    });
    // The warning never fired; it no longer applies.
    expect(only(r, 'cancelTimer').map((c) => c.timerId)).toEqual([warning.timerId]);
    expect(fire(r.state, breach, MON_10 + 2 * HOUR + 4 * MIN).commands).toEqual([]);
  });

  it.each([
    [
      'patient_unreachable',
      { num_contacted_notes: '3' },
      null,
      ['3 contact attempt(s) since entry, no inbound reply since entry (threshold 2)'],
    ],
    // A reply after entry answers the attempts; the owner change then explains the breach.
    [
      'handoff',
      { num_contacted_notes: '3', last_reply_at: String(MON_10 + HOUR) },
      '102',
      ['owner changed 1 time(s) during the visit'],
    ],
    // Losing the owner is also an owner change: both facts are the evidence.
    [
      'handoff',
      { num_contacted_notes: '1' },
      null,
      ['deal has no owner', 'owner changed 1 time(s) during the visit'],
    ],
  ] as const)('infers %s from evidence', (reason, properties, newOwner, evidence) => {
    let state = entered;
    const owner = newOwner ?? (evidence[0] === 'deal has no owner' ? null : '101');
    const s = snap({ properties: { ...properties }, ownerId: owner });
    state = reconcile({ playbook, state, snapshot: s, now: MON_10 + HOUR }).state!;
    const r = fire(state, breach, MON_10 + 2 * HOUR, s);
    expect(r.state!.current!.breachReason).toBe(reason);
    expect(r.state!.current!.breachEvidence).toEqual(evidence);
  });

  it("infers capacity from the owner workload above the role's threshold, and other when nothing matches", () => {
    const playbook = fixturePlaybook((p) => {
      p.roles[0]!.capacity = { openTasks: 14 };
    });
    const entered = reconcile({ playbook, state: null, snapshot: base, now: MON_10 }).state!;
    const fire = (state: DealState, timer: TimerFiring, now: number, s: DealSnapshot) =>
      onTimer({ playbook, state, snapshot: s, timer, now });
    const busy = snap({ properties: { num_contacted_notes: '1' }, ownerOpenTasks: 15 });
    expect(fire(entered, breach, MON_10 + 2 * HOUR, busy).state!.current!.breachReason).toBe('capacity');
    const calm = snap({ properties: { num_contacted_notes: '1' }, ownerOpenTasks: 2 });
    expect(fire(entered, breach, MON_10 + 2 * HOUR, calm).state!.current!.breachReason).toBe('other');
  });

  it("uses the stage's own rules when it has them", () => {
    const pb = fixturePlaybook((p) => {
      p.pipelines[0]!.stages[0]!.breachReasons = [{ reason: 'capacity', ownerOpenTasksAtLeast: 3 }];
    });
    const st = reconcile({ playbook: pb, state: null, snapshot: base, now: MON_10 }).state!;
    const r = onTimer({
      playbook: pb,
      state: st,
      snapshot: { ...base, ownerOpenTasks: 3 },
      timer: breach,
      now: MON_10 + 2 * HOUR,
    });
    expect(r.state!.current!.breachReason).toBe('capacity');
    // The stage's list replaces the defaults: the unmet data criterion does not make it missing_data.
    const r2 = onTimer({
      playbook: pb,
      state: st,
      snapshot: { ...base, ownerOpenTasks: 2 },
      timer: breach,
      now: MON_10 + 2 * HOUR,
    });
    expect(r2.state!.current!.breachReason).toBe('other');
  });
});

describe('manual breach reason', () => {
  const breached = fire(entered, breach, MON_10 + 2 * HOUR).state!;

  it('writes the reason with source manual', () => {
    const r = setBreachReason({ playbook, state: breached, reason: 'capacity', now: MON_10 + 3 * HOUR });
    expect(written(r)).toEqual({ [P.breachReason]: 'capacity', [P.breachReasonSource]: 'manual' });
    expect(r.state!.current).toMatchObject({ breachReason: 'capacity', breachReasonSource: 'manual' });
    expect(
      setBreachReason({ playbook, state: r.state!, reason: 'capacity', now: MON_10 + 4 * HOUR }).commands,
    ).toEqual([]);
  });

  it('set before the breach, is not overwritten by the inference at breach', () => {
    const preset = setBreachReason({
      playbook,
      state: entered,
      reason: 'patient_unreachable',
      now: MON_10 + HOUR,
    });
    expect(preset.commands).toEqual([]);
    expect(rules(preset)).toContain('manual_reason.preset');
    // The evidence would say missing_data; the rep's reason stands and is written as manual.
    const r = fire(preset.state, breach, MON_10 + 2 * HOUR);
    expect(r.state!.current).toMatchObject({
      breachReason: 'patient_unreachable',
      breachReasonSource: 'manual',
    });
    expect(written(r)).toMatchObject({
      [P.breachReason]: 'patient_unreachable',
      [P.breachReasonSource]: 'manual',
    });
    expect(rules(r)).toContain('breach.reason_manual_kept');
  });

  it('for an earlier stage breach rewrites the properties only', () => {
    const moved = reconcile({
      playbook,
      state: breached,
      snapshot: snap({
        stage: 'intake',
        stageEnteredAt: MON_10 + 3 * HOUR,
        properties: { num_contacted_notes: '1', insurance_id: 'x' },
      }),
      now: MON_10 + 3 * HOUR,
    }).state!;
    const r = setBreachReason({ playbook, state: moved, reason: 'handoff', now: MON_10 + 4 * HOUR });
    expect(written(r)).toEqual({ [P.breachReason]: 'handoff', [P.breachReasonSource]: 'manual' });
    expect(r.state!.current!.breachReason).toBeNull();
  });

  it('is refused when there is no breach and no running clock', () => {
    const lost = reconcile({
      playbook,
      state: entered,
      snapshot: snap({ stage: 'lost', stageEnteredAt: MON_10 + HOUR }),
      now: MON_10 + HOUR,
    });
    const r = setBreachReason({ playbook, state: lost.state!, reason: 'capacity', now: MON_10 + HOUR });
    expect(r.commands).toEqual([]);
    expect(rules(r)).toContain('manual_reason.no_breach');
  });
});

describe('escalation timers', () => {
  it('level at 100 %: breaches first if the breach job has not run, then a task for the lead', () => {
    const r = fire(entered, level(0), MON_10 + 2 * HOUR);
    expect(r.state!.current!.sla!.status).toBe('breached');
    const [task] = only(r, 'createTask');
    expect(task).toMatchObject({ kind: 'escalation', ownerId: '100', key: `${ID}:level:0:lead` });
    expect(written(r)[P.escalationLevel]).toBe('1');
    // The breach job arriving afterwards does nothing.
    expect(fire(r.state, breach, MON_10 + 2 * HOUR + 1).commands).toEqual([]);
  });

  it('level at 150 %: reassigns to the lead and sets the property, once', () => {
    const afterBreach = fire(
      fire(entered, breach, MON_10 + 2 * HOUR).state,
      level(0),
      MON_10 + 2 * HOUR,
    ).state!;
    const r = fire(afterBreach, level(1), MON_10 + 3 * HOUR);
    expect(only(r, 'assignOwner')).toEqual([
      { type: 'assignOwner', ownerId: '100', reason: expect.stringContaining('lead') },
    ]);
    expect(written(r)).toMatchObject({ priority_flag: 'high', [P.escalationLevel]: '2' });
    expect(r.state!.current!.ownerChanges.at(-1)).toMatchObject({ from: '101', to: '100' });
    expect(r.state!.current!.sla!.timers).toEqual([]);
    expect(fire(r.state, level(1), MON_10 + 3 * HOUR + 1).commands).toEqual([]);
    // HubSpot then shows the lead as owner: already recorded, nothing to do.
    expect(
      reconcile({
        playbook,
        state: r.state,
        snapshot: snap({ ...base, ownerId: '100' }),
        now: MON_10 + 4 * HOUR,
      }).commands,
    ).toEqual([]);
  });

  it('notifyOwner makes a high-priority task for the owner', () => {
    const s = snap({ stage: 'review' });
    const st = reconcile({ playbook, state: null, snapshot: s, now: MON_10 }).state!;
    const id = `d1:review:${MON_10}`;
    const r = onTimer({
      playbook,
      state: st,
      snapshot: s,
      timer: { timerId: `${id}:level:0`, kind: 'escalation', level: 0, entryId: id },
      now: st.current!.sla!.timers!.find((t) => t.timerId === `${id}:level:0`)!.fireAt,
    });
    expect(only(r, 'createTask')[0]).toMatchObject({ kind: 'escalation', ownerId: '101', priority: 'HIGH' });
  });
});
