import { correctVisitReason } from '../engine/reason-correction';
import { describe, expect, it } from 'vitest';
import { onTimer, reconcile, timerId, type DealSnapshot, type DealState, type HistoryRow } from '../engine';
import { HOUR, MIN, MON_10, at, fixturePlaybook, snap } from '../engine/fixtures';
import { P } from '../properties';
import { buildCardView, MAX_CARD_BREACHES, type CardView, type ManagedCardView } from './card';

const playbook = fixturePlaybook();

/** Runs the real engine so the states under test are ones the worker would store. */
function enter(over: Partial<DealSnapshot> = {}, now = MON_10): DealState {
  const r = reconcile({ playbook, state: null, snapshot: snap(over), now });
  return r.state!;
}

function fire(state: DealState, kind: 'warning' | 'breach', now: number, snapshot = snap()): DealState {
  const entryId = state.current!.entryId;
  return onTimer({
    playbook,
    state,
    snapshot,
    timer: { timerId: timerId(entryId, kind), kind, entryId },
    now,
  }).state!;
}

const managed = (v: CardView): ManagedCardView => {
  if (!v.managed) throw new Error(`expected a managed view, got ${v.reason}`);
  return v;
};

const view = (
  state: DealState | null,
  now: number,
  snapshot: DealSnapshot | null = snap(),
  history: HistoryRow[] = [],
) => buildCardView({ dealId: 'd1', playbook, state, snapshot, history, now });

describe('unmanaged variants', () => {
  it('no playbook in the portal', () => {
    expect(
      buildCardView({ dealId: 'd1', playbook: null, state: null, snapshot: snap(), now: MON_10 }),
    ).toEqual({
      managed: false,
      dealId: 'd1',
      reason: 'no_playbook',
      pipeline: null,
    });
  });

  it('a pipeline the playbook does not name, with and without stored state', () => {
    const live = snap({ pipeline: 'default', stage: 'appointmentscheduled' });
    expect(view(null, MON_10, live)).toEqual({
      managed: false,
      dealId: 'd1',
      reason: 'unmanaged_pipeline',
      pipeline: { id: 'default', label: 'default' },
    });
    const left = reconcile({ playbook, state: enter(), snapshot: live, now: MON_10 + HOUR }).state!;
    expect(left.closedReason).toBe('unmanaged_pipeline');
    expect(view(left, MON_10 + HOUR, live)).toMatchObject({ managed: false, reason: 'unmanaged_pipeline' });
  });

  it('not found: nothing stored yet, deleted in HubSpot, or merged away', () => {
    expect(view(null, MON_10)).toEqual({
      managed: false,
      dealId: 'd1',
      reason: 'not_found',
      pipeline: { id: 'tele', label: 'Telehealth' },
    });
    expect(view(enter(), MON_10, snap({ exists: false, pipeline: null, stage: null }))).toMatchObject({
      reason: 'not_found',
      pipeline: null,
    });
    const merged = { ...enter(), closedReason: 'merged' as const, current: null };
    expect(view(merged, MON_10)).toMatchObject({ managed: false, reason: 'not_found' });
  });
});

describe('managed deal', () => {
  it('running: elapsed and remaining in staffed time, checklist from the live snapshot, watched properties', () => {
    const state = enter();
    const v = managed(view(state, MON_10 + 30 * MIN, snap({ properties: { num_contacted_notes: '1' } })));
    expect(v).toMatchObject({
      dealId: 'd1',
      playbookVersion: 1,
      pipeline: { id: 'tele', label: 'Telehealth' },
      stage: { id: 'lead', label: 'Lead', enteredAt: '2026-03-02T15:00:00.000Z' },
      ownerRole: { id: 'intake', name: 'Intake' },
      breachReason: null,
      breaches: [],
    });
    expect(v.sla).toEqual({
      status: 'running',
      basis: 'business',
      target: '2h',
      targetMs: 2 * HOUR,
      elapsedMs: 30 * MIN,
      remainingMs: 90 * MIN,
      dueAt: '2026-03-02T17:00:00.000Z',
      originalDueAt: '2026-03-02T17:00:00.000Z',
      warningAt: '2026-03-02T16:30:00.000Z',
      breachedAt: null,
      pausedAt: null,
      pauseReason: null,
      metAt: null,
    });
    expect(v.exitChecklist).toEqual([{ label: 'First contact logged', met: true }]);
    expect(managed(view(state, MON_10, snap())).exitChecklist).toEqual([
      { label: 'First contact logged', met: false },
    ]);
    // The stage's own criteria, then what the next move (to Intake) needs on entry.
    expect(v.watchProperties).toEqual(['num_contacted_notes', 'waiting_on', 'urgency', 'insurance_id']);
    expect(v.gate).toEqual({
      status: 'clear',
      blockedFrom: null,
      blockedTo: null,
      movedTo: null,
      at: null,
      missing: [],
      remedy: null,
    });
  });

  it('business elapsed skips closed hours: 10:00 to 20:00 on a 9-17 calendar is 7 staffed hours', () => {
    const v = managed(view(enter(), at('2026-03-02T20:00:00-05:00')));
    expect(v.sla).toMatchObject({ elapsedMs: 7 * HOUR, remainingMs: -5 * HOUR });
  });

  it('warning after the warning timer fired', () => {
    const state = fire(enter(), 'warning', at('2026-03-02T11:30:00-05:00'));
    expect(managed(view(state, at('2026-03-02T11:40:00-05:00'))).sla).toMatchObject({
      status: 'warning',
      remainingMs: 20 * MIN,
    });
  });

  it('paused: elapsed frozen at the pause, reason is the holding criterion label', () => {
    const waiting = snap({ properties: { waiting_on: 'patient' } });
    const paused = reconcile({ playbook, state: enter(), snapshot: waiting, now: MON_10 + 45 * MIN }).state!;
    const v = managed(view(paused, MON_10 + 3 * HOUR, waiting));
    expect(v.sla).toMatchObject({
      status: 'paused',
      elapsedMs: 45 * MIN,
      remainingMs: 75 * MIN,
      pausedAt: '2026-03-02T15:45:00.000Z',
      pauseReason: 'waiting_on is patient',
    });
    // The checklist and pause reason come from the live read: once the condition is gone the card says so.
    expect(managed(view(paused, MON_10 + 3 * HOUR, snap())).sla!.pauseReason).toBeNull();
  });

  it('breached: negative remaining, reason with evidence labels, listed as the newest breach', () => {
    const due = at('2026-03-02T12:00:00-05:00');
    const state = fire(enter(), 'breach', due);
    const v = managed(view(state, due + HOUR));
    expect(v.sla).toMatchObject({
      status: 'breached',
      elapsedMs: 3 * HOUR,
      remainingMs: -HOUR,
      breachedAt: '2026-03-02T17:00:00.000Z',
    });
    expect(v.breachReason).toEqual({
      value: 'missing_data',
      source: 'inferred',
      evidence: ['data criterion unmet: First contact logged'],
    });
    expect(v.breaches).toEqual([
      {
        stage: { id: 'lead', label: 'Lead' },
        breachedAt: '2026-03-02T17:00:00.000Z',
        reason: 'missing_data',
        source: 'inferred',
        entryId: state.current!.entryId,
        evidence: ['data criterion unmet: First contact logged'],
        corrected: false,
      },
    ]);
  });

  it('met and cancelled clocks show what they consumed; an override target is shown as written', () => {
    const state = enter({ properties: { urgency: 'urgent' } });
    const clock = state.current!.sla!;
    state.current!.sla = {
      ...clock,
      status: 'met',
      runningSince: null,
      consumedMs: 20 * MIN,
      metAt: MON_10 + 20 * MIN,
    };
    const v = managed(view(state, MON_10 + 5 * HOUR));
    expect(v.sla).toMatchObject({
      status: 'met',
      target: '30m',
      targetMs: 30 * MIN,
      elapsedMs: 20 * MIN,
      remainingMs: 10 * MIN,
      metAt: '2026-03-02T15:20:00.000Z',
    });
    state.current!.sla = { ...state.current!.sla!, status: 'cancelled' };
    expect(managed(view(state, MON_10)).sla!.status).toBe('cancelled');
  });

  it('a stored target the playbook no longer says is rendered from the clock, not the playbook text', () => {
    const state = enter();
    state.current!.sla!.targetMs = 3 * HOUR;
    expect(managed(view(state, MON_10)).sla!.target).toBe('3h');
  });

  it('a stage without SLA (closed stage) has sla null', () => {
    const won = reconcile({
      playbook,
      state: enter(),
      snapshot: snap({ stage: 'won', stageEnteredAt: MON_10 + HOUR }),
      now: MON_10 + HOUR,
    }).state!;
    const v = managed(view(won, MON_10 + HOUR, snap({ stage: 'won' })));
    expect(v.stage.label).toBe('Started care');
    expect(v.sla).toBeNull();
    expect(v.exitChecklist).toEqual([]);
  });
});

describe('gate', () => {
  const inIntake = () => enter({ stage: 'intake', properties: { insurance_id: 'x' } });

  it('remediation: where the deal went and what to do', () => {
    const blockedAt = MON_10 + HOUR;
    const r = reconcile({
      playbook,
      state: inIntake(),
      snapshot: snap({ stage: 'review', stageEnteredAt: blockedAt }),
      now: blockedAt,
    });
    const v = managed(view(r.state!, blockedAt, snap({ stage: 'review' })));
    expect(v.gate).toEqual({
      status: 'blocked_remediation',
      blockedFrom: { id: 'intake', label: 'Intake' },
      blockedTo: { id: 'review', label: 'Review' },
      movedTo: { id: 'fix', label: 'Needs info' },
      at: '2026-03-02T16:00:00.000Z',
      missing: ['Consent collected', 'intake_form_at present', 'Documents received'],
      remedy: 'Collect the missing items in Needs info, then move the deal to Review again.',
    });
  });

  it('revert: the deal went back where it was', () => {
    const r = reconcile({
      playbook,
      state: enter(),
      snapshot: snap({ stage: 'intake', stageEnteredAt: MON_10 + HOUR }),
      now: MON_10 + HOUR,
    });
    const v = managed(view(r.state!, MON_10 + HOUR));
    expect(v.gate).toMatchObject({
      status: 'blocked_reverted',
      movedTo: { id: 'lead', label: 'Lead' },
      missing: ['First contact logged', 'Insurance id'],
      remedy: 'Complete the missing items, then move the deal to Intake again.',
    });
  });

  it('is cleared once the deal is in neither the blocked stage nor where the gate sent it', () => {
    const r = reconcile({
      playbook,
      state: enter(),
      snapshot: snap({ stage: 'intake', stageEnteredAt: MON_10 + HOUR }),
      now: MON_10 + HOUR,
    });
    const moved = structuredClone(r.state!);
    moved.current!.stage = 'review';
    expect(managed(view(moved, MON_10 + HOUR)).gate.status).toBe('clear');
  });
});

describe('breach history', () => {
  const row = (i: number, over: Partial<HistoryRow> = {}): HistoryRow => ({
    dealId: 'd1',
    pipeline: 'tele',
    stage: 'lead',
    ownerRole: 'intake',
    ownerId: '101',
    enteredAt: MON_10 - (i + 1) * 24 * HOUR,
    exitedAt: MON_10 - (i + 1) * 24 * HOUR + 5 * HOUR,
    businessMs: 5 * HOUR,
    toStage: 'intake',
    direction: 'backward',
    slaOutcome: 'breached',
    breachReason: 'capacity',
    ...over,
  });

  it('a past breach a rep corrected is flagged, with the evidence inference used', () => {
    const state = enter();
    const past = row(3, {
      breachEvidence: ['deal has no owner'],
      breachReasonSource: 'inferred',
      breachReason: 'handoff',
    });
    const corrected = correctVisitReason(past, 'capacity', '77', MON_10)!;
    const v = managed(view(state, MON_10, snap(), [corrected]));
    expect(v.breaches[0]).toMatchObject({
      reason: 'capacity',
      source: 'manual',
      corrected: true,
      evidence: ['deal has no owner'],
    });
    expect(corrected.corrections).toEqual([{ at: MON_10, userId: '77', from: 'handoff', to: 'capacity' }]);
    expect(corrected.inferredReason).toBe('handoff');
    // The same reason again changes nothing; a row that did not breach has nothing to correct.
    expect(correctVisitReason({ ...corrected }, 'capacity', '77', MON_10 + 1)).toBeNull();
    expect(correctVisitReason(row(4, { slaOutcome: 'met' }), 'capacity', '77', MON_10)).toBeNull();
  });

  it('newest first, at most 20, only breaches of this deal; the latest takes its instant and source from HubSpot', () => {
    const state = enter();
    const rows = [
      ...Array.from({ length: 25 }, (_, i) => row(i)),
      row(0, { slaOutcome: 'met', enteredAt: MON_10 - HOUR }),
      row(1, { dealId: 'other' }),
    ];
    const latest = rows[0]!;
    const live = snap({
      properties: {
        [P.slaBreachedAt]: String(latest.enteredAt + 2 * HOUR),
        [P.breachStage]: 'lead',
        [P.breachReasonSource]: 'manual',
      },
    });
    const v = managed(view(state, MON_10, live, rows));
    expect(v.breaches).toHaveLength(MAX_CARD_BREACHES);
    expect(v.breaches[0]).toEqual({
      stage: { id: 'lead', label: 'Lead' },
      breachedAt: new Date(latest.enteredAt + 2 * HOUR).toISOString(),
      reason: 'capacity',
      source: 'manual',
      entryId: `d1:lead:${latest.enteredAt}`,
      evidence: [],
      corrected: false,
    });
    // Older ones only know when the visit ended.
    expect(v.breaches[1]).toMatchObject({
      breachedAt: new Date(rows[1]!.exitedAt).toISOString(),
      source: null,
    });
    const times = v.breaches.map((b) => b.breachedAt);
    expect([...times].sort().reverse()).toEqual(times);
  });

  it('rows that recorded their breach instant and source use them; HubSpot ISO datetimes are read too', () => {
    const state = enter();
    const older = row(3, { breachedAt: MON_10 - 4 * 24 * HOUR + HOUR, breachReasonSource: 'inferred' });
    const latest = row(0);
    const live = snap({
      properties: {
        [P.slaBreachedAt]: new Date(latest.enteredAt + 3 * HOUR).toISOString(),
        [P.breachStage]: 'lead',
        [P.breachReasonSource]: 'inferred',
      },
    });
    const v = managed(view(state, MON_10, live, [older, latest]));
    expect(v.breaches[0]).toMatchObject({
      breachedAt: new Date(latest.enteredAt + 3 * HOUR).toISOString(),
      source: 'inferred',
    });
    expect(v.breaches[1]).toMatchObject({
      breachedAt: new Date(older.breachedAt!).toISOString(),
      source: 'inferred',
    });
  });
});

it('never carries deal property values, only labels', () => {
  const live = snap({
    properties: {
      waiting_on: 'patient',
      patient_name: 'Jane Roe',
      num_contacted_notes: '7',
      urgency: 'Chest pain',
    },
  });
  const paused = reconcile({ playbook, state: enter(), snapshot: live, now: MON_10 + MIN }).state!;
  const json = JSON.stringify(view(paused, MON_10 + HOUR, live));
  expect(json).not.toContain('Jane Roe');
  expect(json).not.toContain('Chest pain');
  expect(json).not.toMatch(/"7"/);
});

describe('what to do now (issue 11 item 5): required actions and the next move, before any move is tried', () => {
  const taskKey = `d1:lead:${MON_10}:task:call`;

  it("lists the stage's required actions as open with their due time, overdue once past it, done once completed", () => {
    const state = enter();
    // "First call" is due 1 staffed hour after entry (10:00 -> 11:00 on the clinic calendar).
    expect(managed(view(state, MON_10 + 30 * MIN)).requiredActions).toEqual([
      {
        id: 'call',
        subject: 'First call',
        status: 'open',
        dueAt: '2026-03-02T16:00:00.000Z',
        overdue: false,
      },
    ]);
    expect(managed(view(state, MON_10 + 90 * MIN)).requiredActions[0]).toMatchObject({
      status: 'open',
      overdue: true,
    });
    const done = snap({ tasks: { [taskKey]: 'COMPLETED' } });
    expect(managed(view(state, MON_10 + 90 * MIN, done)).requiredActions[0]).toMatchObject({
      status: 'done',
      overdue: false,
    });
  });

  it('says what moving to the next stage needs: unmet exit criteria here and entry criteria there', () => {
    const state = enter();
    expect(managed(view(state, MON_10)).nextMove).toEqual({
      to: { id: 'intake', label: 'Intake' },
      missing: ['First contact logged', 'Insurance id'],
    });
    const half = snap({ properties: { num_contacted_notes: '1' } });
    expect(managed(view(state, MON_10, half)).nextMove!.missing).toEqual(['Insurance id']);
    const ready = snap({ properties: { num_contacted_notes: '1', insurance_id: 'x' } });
    expect(managed(view(state, MON_10, ready)).nextMove).toEqual({
      to: { id: 'intake', label: 'Intake' },
      missing: [],
    });
    // Without HubSpot's view nothing can be shown as met.
    expect(managed(view(state, MON_10, null)).nextMove!.missing).toEqual([
      'First contact logged',
      'Insurance id',
    ]);
  });

  it('from a remediation stage, the next move is back to the stage whose gate sent the deal there', () => {
    const inFix = reconcile({ playbook, state: null, snapshot: snap({ stage: 'fix' }), now: MON_10 }).state!;
    expect(managed(view(inFix, MON_10, snap({ stage: 'fix' }))).nextMove).toEqual({
      to: { id: 'review', label: 'Review' },
      missing: ['Documents received'],
    });
  });

  it('a closed stage has no next move', () => {
    const won = reconcile({ playbook, state: null, snapshot: snap({ stage: 'won' }), now: MON_10 }).state!;
    expect(managed(view(won, MON_10, snap({ stage: 'won' }))).nextMove).toBeNull();
  });
});
