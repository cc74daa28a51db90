import { describe, expect, it } from 'vitest';
import { P } from '../properties';
import { at, fixturePlaybook, HOUR, MIN, MON_10, only, rules, snap, written } from './fixtures';
import { reconcile } from './reconcile';

const playbook = fixturePlaybook();

describe('stage entry', () => {
  it('starts the clock at HubSpot entry time, not at the (late) webhook', () => {
    // Entered Monday 16:00 New York; the engine only hears about it Tuesday 10:30.
    const entered = at('2026-03-02T16:00:00-05:00');
    const now = at('2026-03-03T10:30:00-05:00');
    const r = reconcile({ playbook, state: null, snapshot: snap({ stageEnteredAt: entered }), now });
    const entry = r.state!.current!;
    expect(entry.enteredAt).toBe(entered);
    expect(entry.entryId).toBe(`d1:lead:${entered}`);
    // 2 staffed hours: Monday 16-17, Tuesday 09-10.
    expect(entry.sla!.dueAt).toBe(at('2026-03-03T10:00:00-05:00'));
    expect(entry.sla!.originalDueAt).toBe(entry.sla!.dueAt);
    // 75 % = 1.5 staffed hours: Tuesday 09:30.
    expect(entry.sla!.warningAt).toBe(at('2026-03-03T09:30:00-05:00'));
    expect(rules(r)).not.toContain('entry.time_fallback');
  });

  it('falls back to now only when HubSpot gave no entry time, and says so', () => {
    const r = reconcile({
      playbook,
      state: null,
      snapshot: snap({ stageEnteredAt: null }),
      now: MON_10 + 5 * MIN,
    });
    expect(r.state!.current!.enteredAt).toBe(MON_10 + 5 * MIN);
    expect(r.state!.current!.enteredAtSource).toBe('now');
    expect(rules(r)).toContain('entry.time_fallback');
  });

  it('schedules warning, breach and every escalation level at their business-time percentages', () => {
    const r = reconcile({ playbook, state: null, snapshot: snap(), now: MON_10 });
    const id = `d1:lead:${MON_10}`;
    const timers = Object.fromEntries(only(r, 'scheduleTimer').map((t) => [t.timerId, t]));
    expect(Object.keys(timers).sort()).toEqual(
      [`${id}:breach`, `${id}:level:0`, `${id}:level:1`, `${id}:warning`].sort(),
    );
    expect(timers[`${id}:warning`]!.fireAt).toBe(MON_10 + 1.5 * HOUR);
    expect(timers[`${id}:breach`]!.fireAt).toBe(MON_10 + 2 * HOUR);
    expect(timers[`${id}:level:0`]).toMatchObject({
      kind: 'escalation',
      level: 0,
      fireAt: MON_10 + 2 * HOUR,
    });
    // 150 % = 3 staffed hours: 13:00.
    expect(timers[`${id}:level:1`]!.fireAt).toBe(MON_10 + 3 * HOUR);
  });

  it('uses the first matching override and records which rule chose the target', () => {
    const r = reconcile({
      playbook,
      state: null,
      snapshot: snap({ properties: { urgency: 'urgent' } }),
      now: MON_10,
    });
    expect(r.state!.current!.sla).toMatchObject({
      targetRule: 'overrides[0]',
      targetMs: 30 * MIN,
      dueAt: MON_10 + 30 * MIN,
    });
    const plain = reconcile({
      playbook,
      state: null,
      snapshot: snap({ properties: { urgency: 'routine' } }),
      now: MON_10,
    });
    expect(plain.state!.current!.sla).toMatchObject({ targetRule: 'default', targetMs: 2 * HOUR });
  });

  it('moves notices outside the role calendar to its next staffed minute, but never the breach', () => {
    // Review: 24 h calendar SLA, warning at 50 %; the care role works evenings 18:00-22:00.
    const s = snap({ stage: 'review', stageEnteredAt: MON_10 });
    const r = reconcile({ playbook, state: null, snapshot: s, now: MON_10 });
    const id = `d1:review:${MON_10}`;
    const fire = Object.fromEntries(only(r, 'scheduleTimer').map((t) => [t.timerId, t.fireAt]));
    // 50 % = Monday 22:00, when the evening shift has just closed: Tuesday 18:00.
    expect(fire[`${id}:warning`]).toBe(at('2026-03-03T18:00:00-05:00'));
    expect(fire[`${id}:breach`]).toBe(at('2026-03-03T10:00:00-05:00'));
    expect(fire[`${id}:level:0`]).toBe(at('2026-03-03T18:00:00-05:00'));
  });

  it('does not move notices when the stage opts out', () => {
    const pb = fixturePlaybook((p) => {
      p.pipelines[0]!.stages[3]!.sla!.noticesInStaffedHours = false;
    });
    const r = reconcile({ playbook: pb, state: null, snapshot: snap({ stage: 'review' }), now: MON_10 });
    const warning = only(r, 'scheduleTimer').find((t) => t.kind === 'warning')!;
    expect(warning.fireAt).toBe(MON_10 + 12 * HOUR);
  });

  it('creates the SLA task and each required action for the right people, with the right due times', () => {
    const s = snap({ stage: 'intake', properties: { insurance_id: 'x' } });
    const r = reconcile({ playbook, state: null, snapshot: s, now: MON_10 });
    const id = `d1:intake:${MON_10}`;
    const tasks = Object.fromEntries(only(r, 'createTask').map((t) => [t.key, t]));
    const due = at('2026-03-03T10:00:00-05:00'); // 8 staffed hours from Monday 10:00
    expect(tasks[`${id}:sla`]).toMatchObject({
      kind: 'sla',
      ownerId: '101',
      dueAt: due,
      subject: 'Intake: Consent collected, intake_form_at present',
    });
    expect(tasks[`${id}:task:consent`]).toMatchObject({
      kind: 'action',
      ownerId: '101',
      dueAt: due,
      subject: 'Collect consent',
    });
    // Calendar basis, assigned to the role lead.
    expect(tasks[`${id}:task:day1`]).toMatchObject({ ownerId: '100', dueAt: MON_10 + 24 * HOUR });
  });

  it('counts a business-basis task offset in staffed time', () => {
    const r = reconcile({
      playbook,
      state: null,
      snapshot: snap({ stageEnteredAt: at('2026-03-02T16:30:00-05:00') }),
      now: MON_10,
    });
    const call = only(r, 'createTask').find((t) => t.key.endsWith(':task:call'))!;
    expect(call.dueAt).toBe(at('2026-03-03T09:30:00-05:00'));
    expect(call.taskType).toBe('CALL');
  });

  it('gives an unowned deal its tasks to the role lead and explains why', () => {
    const r = reconcile({ playbook, state: null, snapshot: snap({ ownerId: null }), now: MON_10 });
    expect(only(r, 'createTask').every((t) => t.ownerId === '100')).toBe(true);
    expect(rules(r)).toContain('task.owner_fallback');
  });

  it('writes the stage properties as epoch-ms strings', () => {
    const r = reconcile({ playbook, state: null, snapshot: snap(), now: MON_10 });
    expect(written(r)).toMatchObject({
      [P.stageOwnerRole]: 'intake',
      [P.slaStatus]: 'running',
      [P.slaDueAt]: String(MON_10 + 2 * HOUR),
      [P.slaWarningAt]: String(MON_10 + 1.5 * HOUR),
      [P.escalationLevel]: '0',
      [P.gateStatus]: 'clear',
    });
  });

  it('starts paused when a pause condition already holds, with no timers', () => {
    const r = reconcile({
      playbook,
      state: null,
      snapshot: snap({ properties: { waiting_on: 'patient' } }),
      now: MON_10,
    });
    expect(r.state!.current!.sla!.status).toBe('paused');
    expect(only(r, 'scheduleTimer')).toEqual([]);
    expect(written(r)[P.slaStatus]).toBe('paused');
  });
});
