import { describe, expect, it } from 'vitest';
import { Playbook } from '../playbook/schema';
import { P } from '../properties';
import { fingerprint, runIdOf } from './event-clocks';
import { fixtureInput, HOUR, MIN, MON_10, only, rules, snap, withClocks, written } from './fixtures';
import { onTimer } from './on-timer';
import { reconcile } from './reconcile';
import type { DealSnapshot, DealState } from './types';

const playbook = withClocks();

/** A deal seen once (baseline), then each later snapshot in turn. */
function walk(steps: { at: number; props?: Record<string, string | null>; over?: Partial<DealSnapshot> }[]) {
  let state: DealState | null = null;
  const results = [];
  for (const step of steps) {
    const r = reconcile({
      playbook,
      state,
      snapshot: snap({ properties: step.props ?? {}, ...step.over }),
      now: step.at,
    });
    state = r.state;
    results.push(r);
  }
  return { state: state!, results };
}

describe('event clocks (seed 000 care-continuity SLAs)', () => {
  it('seed 000 line 89: a support inquiry starts a 1-business-hour clock anchored at the inquiry time', () => {
    const inquiry = MON_10 + 20 * MIN;
    const { state, results } = walk([
      { at: MON_10 },
      { at: MON_10 + 25 * MIN, props: { support_inquiry_at: String(inquiry) } },
    ]);
    const r = results[1]!;
    const run = state.clocks!.find((c) => c.clockId === 'support_inquiry')!;
    expect(run.runId).toBe(runIdOf('d1', 'support_inquiry', inquiry));
    expect(run.sla).toMatchObject({
      status: 'running',
      targetMs: HOUR,
      dueAt: inquiry + HOUR,
      basis: 'business',
    });
    const task = only(r, 'createTask').find((t) => t.key === `${run.runId}:sla`)!;
    expect(task).toMatchObject({
      ownerId: '101',
      dueAt: inquiry + HOUR,
      priority: 'HIGH',
      subject: 'Support inquiry response (1h SLA)',
    });
    expect(only(r, 'scheduleTimer').map((t) => [t.kind, t.fireAt])).toEqual([
      ['warning', inquiry + 45 * MIN],
      ['breach', inquiry + HOUR],
      ['escalation', inquiry + HOUR],
    ]);
    expect(written(r)).toMatchObject({
      [P.clocksOpen]: 'support_inquiry',
      [P.clocksDueAt]: String(inquiry + HOUR),
    });
    expect(state.trail!.map((t) => t.rule)).toContain('clock.started');
  });

  it("delivers the warning of a clock whose role is off shift at the role's next staffed minute", () => {
    const pb = withClocks((p) => {
      p.clocks![0]!.role = 'care';
    });
    const r1 = reconcile({ playbook: pb, state: null, snapshot: snap(), now: MON_10 });
    const r2 = reconcile({
      playbook: pb,
      state: r1.state,
      snapshot: snap({ properties: { support_inquiry_at: String(MON_10) } }),
      now: MON_10,
    });
    // Care is staffed 18:00-22:00: the 10:45 warning waits for 18:00 (8 hours after 10:00).
    expect(only(r2, 'scheduleTimer').find((t) => t.kind === 'warning')!.fireAt).toBe(MON_10 + 8 * HOUR);
  });

  it('counts business time: an inquiry at 16:30 is due at 09:30 next morning on the 09-17 calendar', () => {
    const inquiry = MON_10 + 6.5 * HOUR;
    const { state } = walk([{ at: MON_10 }, { at: inquiry, props: { support_inquiry_at: String(inquiry) } }]);
    expect(state.clocks![0]!.sla.dueAt).toBe(MON_10 + 23.5 * HOUR);
  });

  it('a value already there when the deal is first seen starts nothing (no arrival time is known)', () => {
    const { state, results } = walk([
      { at: MON_10, props: { support_inquiry_at: String(MON_10), refill_missing_input: 'dose' } },
    ]);
    expect(state.clocks).toEqual([]);
    expect(rules(results[0]!)).toContain('clock.baseline');
    expect(JSON.stringify(state.watch)).not.toContain('dose');
  });

  it('warns at 75 %, breaches at 100 % with the lead escalated, and the response then stops it breached', () => {
    const inquiry = MON_10 + 5 * MIN;
    const { state } = walk([{ at: MON_10 }, { at: inquiry, props: { support_inquiry_at: String(inquiry) } }]);
    const run = state.clocks![0]!;
    const snapshot = snap({ properties: { support_inquiry_at: String(inquiry) } });
    const warn = onTimer({
      playbook,
      state,
      snapshot,
      timer: { timerId: `${run.runId}:warning`, kind: 'warning', entryId: run.runId },
      now: inquiry + 45 * MIN,
    });
    expect(only(warn, 'createTask').map((t) => [t.key, t.ownerId])).toEqual([
      [`${run.runId}:warning`, '101'],
    ]);
    // A warning of an event clock does not touch the stage's SLA status.
    expect(written(warn)[P.slaStatus]).toBeUndefined();
    const breach = onTimer({
      playbook,
      state: warn.state,
      snapshot,
      timer: { timerId: `${run.runId}:breach`, kind: 'breach', entryId: run.runId },
      now: inquiry + HOUR,
    });
    expect(breach.state!.clocks![0]!.sla).toMatchObject({ status: 'breached', breachedAt: inquiry + HOUR });
    expect(written(breach)).toMatchObject({
      [P.clockBreach]: 'support_inquiry',
      [P.clockBreachedAt]: String(inquiry + HOUR),
      [P.breachCount]: '1',
    });
    const esc = onTimer({
      playbook,
      state: breach.state,
      snapshot,
      timer: { timerId: `${run.runId}:level:0`, kind: 'escalation', level: 0, entryId: run.runId },
      now: inquiry + HOUR,
    });
    // The clock's role is accountable: its lead gets the escalation.
    expect(only(esc, 'createTask').map((t) => [t.subject, t.ownerId])).toEqual([
      ['Support inquiry unanswered', '100'],
    ]);
    const answered = reconcile({
      playbook,
      state: esc.state,
      snapshot: snap({
        properties: { support_inquiry_at: String(inquiry), support_responded_at: String(inquiry + 2 * HOUR) },
      }),
      now: inquiry + 2 * HOUR,
    });
    const stopped = answered.state!.clocks![0]!;
    expect(stopped).toMatchObject({ stoppedAt: inquiry + 2 * HOUR });
    expect(stopped.sla.status).toBe('breached');
    expect(only(answered, 'completeTask').map((c) => c.key)).toEqual([`${run.runId}:sla`]);
    expect(
      only(answered, 'cancelTask')
        .map((c) => c.key)
        .sort(),
    ).toEqual([`${run.runId}:level:0:lead`, `${run.runId}:warning`].sort());
    expect(written(answered)[P.clocksOpen]).toBe('');
  });

  it('seed 000 line 90: a missing refill input starts a 24-hour calendar clock, stopped (met) when the input arrives', () => {
    const { state, results } = walk([
      { at: MON_10 },
      { at: MON_10 + HOUR, props: { refill_missing_input: 'weight_log' } },
      { at: MON_10 + 20 * HOUR, props: { refill_missing_input: null } },
    ]);
    const started = results[1]!;
    const run = state.clocks!.find((c) => c.clockId === 'refill_inputs')!;
    expect(only(started, 'createTask')[0]!.dueAt).toBe(MON_10 + 25 * HOUR);
    expect(run.sla).toMatchObject({
      status: 'met',
      basis: 'calendar',
      dueAt: MON_10 + 25 * HOUR,
      metAt: MON_10 + 20 * HOUR,
    });
    expect(
      only(results[2]!, 'cancelTimer')
        .map((t) => t.timerId)
        .sort(),
    ).toEqual([`${run.runId}:breach`, `${run.runId}:warning`]);
    expect(only(results[2]!, 'completeTask').map((c) => c.key)).toEqual([`${run.runId}:sla`]);
    // The run goes to the weekly scorecard as a clock row, not as a stage visit.
    expect(only(results[2]!, 'recordHistory').map((c) => c.row)).toEqual([
      expect.objectContaining({
        stage: 'clock.refill_inputs',
        clock: 'refill_inputs',
        enteredAt: MON_10 + HOUR,
        exitedAt: MON_10 + 20 * HOUR,
        businessMs: 19 * HOUR,
        slaOutcome: 'met',
      }),
    ]);
  });

  it('a stop seen after the due time is a breach at the due time, even if the breach timer never ran', () => {
    const { state, results } = walk([
      { at: MON_10 },
      { at: MON_10, props: { refill_missing_input: 'dose' } },
      { at: MON_10 + 30 * HOUR, props: { refill_missing_input: '' } },
    ]);
    expect(state.clocks![0]!.sla).toMatchObject({ status: 'breached', breachedAt: MON_10 + 24 * HOUR });
    expect(written(results[2]!)[P.clockBreachedAt]).toBe(String(MON_10 + 24 * HOUR));
  });

  it('a second inquiry while one is open keeps the first clock; a new one after the answer starts a new run', () => {
    const first = MON_10 + 5 * MIN;
    const second = MON_10 + 10 * MIN;
    const { state, results } = walk([
      { at: MON_10 },
      { at: first, props: { support_inquiry_at: String(first) } },
      { at: second, props: { support_inquiry_at: String(second) } },
      {
        at: second + MIN,
        props: { support_inquiry_at: String(second), support_responded_at: String(second + MIN) },
      },
      {
        at: second + 2 * HOUR,
        props: { support_inquiry_at: String(second + 2 * HOUR), support_responded_at: String(second + MIN) },
      },
    ]);
    expect(rules(results[2]!)).toContain('clock.already_running');
    expect(only(results[2]!, 'createTask')).toEqual([]);
    expect(only(results[3]!, 'completeTask').map((c) => c.key)).toEqual([
      `${runIdOf('d1', 'support_inquiry', first)}:sla`,
    ]);
    expect(state.clocks!.map((c) => c.runId)).toEqual([runIdOf('d1', 'support_inquiry', second + 2 * HOUR)]);
  });

  it('re-evaluates the conditional target when urgency is raised while the clock runs (trail records it)', () => {
    const inquiry = MON_10;
    const { state, results } = walk([
      { at: MON_10 },
      { at: inquiry, props: { support_inquiry_at: String(inquiry) } },
      { at: inquiry + 5 * MIN, props: { support_inquiry_at: String(inquiry), urgency: 'urgent' } },
    ]);
    const run = state.clocks![0]!;
    expect(run.sla).toMatchObject({
      targetMs: 15 * MIN,
      targetRule: 'overrides[0]',
      dueAt: inquiry + 15 * MIN,
    });
    expect(only(results[2]!, 'rescheduleTask').filter((c) => c.key.startsWith(run.runId))).toEqual([
      { type: 'rescheduleTask', key: `${run.runId}:sla`, dueAt: inquiry + 15 * MIN },
    ]);
    expect(
      only(results[2]!, 'scheduleTimer').find((t) => t.kind === 'breach' && t.entryId === run.runId)!.fireAt,
    ).toBe(inquiry + 15 * MIN);
    expect(state.trail!.at(-1)).toMatchObject({ rule: 'sla.retargeted', at: inquiry + 5 * MIN });
  });

  it("a playbook edit of a running clock's target moves its due time (time counted so far stays counted)", () => {
    const { state } = walk([{ at: MON_10 }, { at: MON_10, props: { refill_missing_input: 'dose' } }]);
    const edited = withClocks((p) => {
      p.version = 2;
      p.clocks![1]!.sla.target = '12h';
    });
    const r = reconcile({
      playbook: edited,
      state,
      snapshot: snap({ properties: { refill_missing_input: 'dose' } }),
      now: MON_10 + HOUR,
    });
    const run = r.state!.clocks![0]!;
    expect(run.sla).toMatchObject({ targetMs: 12 * HOUR, dueAt: MON_10 + 12 * HOUR });
    expect(r.state!.trail!.at(-1)!.detail).toContain('because the playbook changed');
  });

  it('a deal leaving the managed pipelines cancels its open clocks and their timers', () => {
    const { state } = walk([{ at: MON_10 }, { at: MON_10, props: { refill_missing_input: 'dose' } }]);
    const run = state.clocks![0]!;
    const r = reconcile({
      playbook,
      state,
      snapshot: snap({ pipeline: 'other', stage: 'x', stageEnteredAt: MON_10 + HOUR }),
      now: MON_10 + HOUR,
    });
    expect(r.state!.clocks![0]!.sla.status).toBe('cancelled');
    expect(only(r, 'cancelTimer').map((c) => c.timerId)).toEqual(
      expect.arrayContaining([`${run.runId}:breach`]),
    );
    expect(only(r, 'cancelTask').map((c) => c.key)).toContain(`${run.runId}:sla`);
  });

  it('does not cancel a running clock task as an orphan of the stage visit', () => {
    const { state } = walk([{ at: MON_10 }, { at: MON_10, props: { refill_missing_input: 'dose' } }]);
    const run = state.clocks![0]!;
    const r = reconcile({
      playbook,
      state,
      snapshot: snap({
        properties: { refill_missing_input: 'dose' },
        tasks: { [`${run.runId}:sla`]: 'NOT_STARTED' },
      }),
      now: MON_10 + MIN,
    });
    expect(only(r, 'cancelTask')).toEqual([]);
  });

  it('does not cancel a run task a concurrent timer decision created that this state has not recorded yet', () => {
    // A webhook's reconcile loads the state from before the escalation timer saved its lead task, but its snapshot
    // already lists that task: it belongs to the live run, not to an ended visit.
    const { state } = walk([{ at: MON_10 }, { at: MON_10, props: { refill_missing_input: 'dose' } }]);
    const run = state.clocks![0]!;
    const tasks = {
      [`${run.runId}:sla`]: 'NOT_STARTED' as const,
      [`${run.runId}:level:0:lead`]: 'NOT_STARTED' as const,
    };
    const r = reconcile({
      playbook,
      state,
      snapshot: snap({ properties: { refill_missing_input: 'dose' }, tasks }),
      now: MON_10 + MIN,
    });
    expect(only(r, 'cancelTask')).toEqual([]);
  });

  it('a clock scoped to other pipelines does not start here', () => {
    const scoped = withClocks((p) => {
      p.clocks![1]!.pipelines = ['tele'];
      p.pipelines.push({
        id: 'other',
        label: 'Other',
        stages: [{ id: 'o1', label: 'O1', ownerRole: 'care' }],
      });
    });
    const at = (props: Record<string, string>) => snap({ pipeline: 'other', stage: 'o1', properties: props });
    const first = reconcile({ playbook: scoped, state: null, snapshot: at({}), now: MON_10 });
    const r = reconcile({
      playbook: scoped,
      state: first.state,
      snapshot: at({ refill_missing_input: 'dose' }),
      now: MON_10 + MIN,
    });
    expect(r.state!.clocks).toEqual([]);
    const inTele = reconcile({ playbook: scoped, state: null, snapshot: snap(), now: MON_10 });
    expect(
      reconcile({
        playbook: scoped,
        state: inTele.state,
        snapshot: snap({ properties: { refill_missing_input: 'dose' } }),
        now: MON_10 + MIN,
      }).state!.clocks,
    ).toHaveLength(1);
  });

  it('fingerprints tell values apart without holding them', () => {
    expect(fingerprint('weight_log')).not.toBe(fingerprint('weight_loh'));
    expect(fingerprint('  ')).toBeNull();
    expect(fingerprint('weight_log')).not.toContain('weight');
  });

  it('the schema refuses a clock without a stop and one naming an unknown role', () => {
    const bad = fixtureInput();
    bad.clocks = [
      {
        id: 'x',
        label: 'X',
        role: 'nobody',
        start: { property: 'a', on: 'set' },
        sla: { target: '1h', basis: 'calendar' },
      },
    ];
    const r = Playbook.safeParse(bad);
    expect(r.success).toBe(false);
    const messages = r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(messages).toEqual(expect.arrayContaining(['clocks.0.stopOn: a clock needs stopOn or stopWhen']));
    const bad2 = fixtureInput();
    bad2.clocks = [
      {
        id: 'x',
        label: 'X',
        role: 'nobody',
        start: { property: 'a', on: 'set' },
        stopOn: [{ property: 'a', on: 'cleared' }],
        sla: { target: '1h', basis: 'calendar' },
      },
    ];
    expect(Playbook.safeParse(bad2).error!.issues.map((i) => i.path.join('.'))).toEqual(['clocks.0.role']);
  });

  it('the schema refuses a page block on an event clock level: event clock breaches reach the lead as HubSpot tasks only', () => {
    const bad = fixtureInput();
    const escalations = [{ at: 100, actions: [{ type: 'taskForLead' as const }], page: { now: true } }];
    bad.clocks = [
      {
        id: 'x',
        label: 'X',
        start: { property: 'a', on: 'set' },
        stopOn: [{ property: 'a', on: 'cleared' }],
        sla: { target: '1h', basis: 'calendar', escalations },
      },
    ];
    const r = Playbook.safeParse(bad);
    expect(r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual([
      'clocks.0.sla.escalations.0.page: event clocks do not page; their escalations are HubSpot tasks (remove "page")',
    ]);
  });
});
