import { describe, expect, it } from 'vitest';
import { Playbook, type PlaybookInput } from '../playbook/schema';
import { P } from '../properties';
import { fixtureInput, fixturePlaybook, HOUR, MIN, MON_10, only, snap, written } from './fixtures';
import { onTimer } from './on-timer';
import { reconcile } from './reconcile';
import { timerId } from './timer-id';
import type { DealSnapshot, DealState } from './types';

// Gates on every path (issue 11 item 2; seed 000: "No transition should happen with missing critical fields.
// Route incomplete records to remediation instead of advancing stage state."). Fixture pipeline order:
// lead -> intake -> fix (remediation detour of review) -> review -> won (closed) -> lost (closed).

const T1 = MON_10 + HOUR;
const contacted = { num_contacted_notes: '1' };

function inStage(
  playbook: Playbook,
  stage: string,
  properties: Record<string, string> = {},
  at = MON_10,
): DealState {
  return reconcile({
    playbook,
    state: null,
    snapshot: snap({ stage, stageEnteredAt: at, properties }),
    now: at,
  }).state!;
}

const move = (playbook: Playbook, state: DealState, over: Partial<DealSnapshot>, now = T1) =>
  reconcile({ playbook, state, snapshot: snap({ stageEnteredAt: now, ...over }), now });

describe('a forward move that skips stages', () => {
  const playbook = fixturePlaybook();
  const ready = { ...contacted, docs_ok: 'true' };

  it("meets the exit criteria of every stage it skips, named with the skipped stage's label", () => {
    // lead -> review skips Intake (consent task, intake form) and the remediation detour "fix" (not a step).
    const r = move(playbook, inStage(playbook, 'lead', ready), { stage: 'review', properties: ready });
    expect(written(r)[P.gateMissing]).toBe('Intake: Consent collected; Intake: intake_form_at present');
    // The target's gate decides where a blocked move goes: review routes to its remediation stage.
    expect(only(r, 'moveStage')).toEqual([{ type: 'moveStage', toStage: 'fix', reason: 'gate_remediation' }]);
    expect(r.state!.current!.stage).toBe('lead');
  });

  it('passes once the skipped stage has what its exit asks for (a task of a stage never visited cannot be done)', () => {
    const playbook = fixturePlaybook((p) => {
      p.pipelines[0]!.stages[1]!.exitCriteria = [{ op: 'present', property: 'intake_form_at' }];
    });
    const props = { ...ready, intake_form_at: String(MON_10) };
    const r = move(playbook, inStage(playbook, 'lead', props), { stage: 'review', properties: props });
    expect(only(r, 'moveStage')).toEqual([]);
    expect(r.state!.current!.stage).toBe('review');
  });

  it('passes without the skipped exits when the pipeline names the move as a shortcut; own exit and entry still apply', () => {
    const withShortcut = fixturePlaybook((p) => {
      p.pipelines[0]!.shortcuts = [
        { from: 'lead', to: 'review', reason: 'urgent referrals go straight to review' },
      ];
    });
    const ok = move(withShortcut, inStage(withShortcut, 'lead', ready), {
      stage: 'review',
      properties: ready,
    });
    expect(only(ok, 'moveStage')).toEqual([]);
    expect(ok.state!.current!.stage).toBe('review');
    const notContacted = move(withShortcut, inStage(withShortcut, 'lead', {}), {
      stage: 'review',
      properties: { docs_ok: 'true' },
    });
    expect(written(notContacted)[P.gateMissing]).toBe('First contact logged');
  });

  it('a move into a closed stage is held to its own entry criteria only (losing a deal is always possible)', () => {
    const r = move(playbook, inStage(playbook, 'lead'), { stage: 'lost' });
    expect(only(r, 'moveStage')).toEqual([]);
    expect(r.state!.closedReason).toBe('closed_stage');
  });
});

describe('entry criteria on every other path', () => {
  const playbook = fixturePlaybook();

  it('a backward move into a stage whose entry criteria do not hold is reverted', () => {
    const props = { ...contacted, docs_ok: 'true', insurance_id: 'x', intake_form_at: String(MON_10) };
    const review = inStage(playbook, 'review', props);
    const r = move(playbook, review, {
      stage: 'intake',
      properties: { ...props, insurance_id: null as unknown as string },
    });
    expect(only(r, 'moveStage')).toEqual([{ type: 'moveStage', toStage: 'review', reason: 'gate_revert' }]);
    expect(written(r)[P.gateMissing]).toBe('Insurance id');
    expect(r.state!.backflowCount).toBe(0);
    const ok = move(playbook, review, { stage: 'intake', properties: props });
    expect(ok.state!.current!.stage).toBe('intake');
    expect(ok.state!.backflowCount).toBe(1);
  });

  const twoPipelines = () => {
    const input: PlaybookInput = fixtureInput();
    input.pipelines.push({
      id: 'lapsed',
      label: 'Re-engagement',
      stages: [
        {
          id: 'lapsed1',
          label: 'Lapsed',
          ownerRole: 'care',
          entryCriteria: [{ op: 'present', property: 'lapse_reason', label: 'Lapse reason' }],
        },
      ],
    });
    return Playbook.parse(input);
  };

  it("a move into another pipeline meets the target's entry criteria, or goes back across with its pipeline", () => {
    const playbook = twoPipelines();
    const lead = inStage(playbook, 'lead');
    const r = move(playbook, lead, { pipeline: 'lapsed', stage: 'lapsed1' });
    expect(only(r, 'moveStage')).toEqual([
      { type: 'moveStage', toStage: 'lead', toPipeline: 'tele', reason: 'gate_revert' },
    ]);
    expect(written(r)[P.gateMissing]).toBe('Lapse reason');
    // HubSpot's echo of the revert is the same visit: the New Lead clock was never stopped.
    const echo = move(playbook, r.state!, { stage: 'lead', properties: {} }, T1 + MIN);
    expect(echo.state!.current!.entryId).toBe(lead.current!.entryId);
    const ok = move(playbook, lead, {
      pipeline: 'lapsed',
      stage: 'lapsed1',
      properties: { lapse_reason: 'x' },
    });
    expect(only(ok, 'moveStage')).toEqual([]);
    expect(ok.state!.current!.stage).toBe('lapsed1');
    expect(only(ok, 'recordHistory')[0]!.row).toMatchObject({ stage: 'lead', direction: 'exit' });
  });
});

describe('closed stages with closure reasons (seed 003: no response, not a fit, duplicate, out of coverage)', () => {
  const playbook = fixturePlaybook((p) => {
    p.pipelines[0]!.stages[5]!.closureReasons = ['no_response', 'duplicate'];
  });

  it('need a closure reason from their list before the deal may close there', () => {
    const r = move(playbook, inStage(playbook, 'lead'), { stage: 'lost' });
    expect(only(r, 'moveStage')).toEqual([{ type: 'moveStage', toStage: 'lead', reason: 'gate_revert' }]);
    expect(written(r)[P.gateMissing]).toBe('Closure reason recorded (no response or duplicate)');
    const notListed = move(playbook, inStage(playbook, 'lead'), {
      stage: 'lost',
      properties: { [P.closureReason]: 'not_a_fit' },
    });
    expect(only(notListed, 'moveStage')).toHaveLength(1);
    const ok = move(playbook, inStage(playbook, 'lead'), {
      stage: 'lost',
      properties: { [P.closureReason]: 'duplicate' },
    });
    expect(ok.state!.closedReason).toBe('closed_stage');
  });

  it('clear the written-back reason when the deal is reopened, so reports do not count it as closed', () => {
    const closed = move(playbook, inStage(playbook, 'lead'), {
      stage: 'lost',
      properties: { [P.closureReason]: 'duplicate' },
    }).state!;
    const reopened = move(
      playbook,
      closed,
      { stage: 'lead', properties: { [P.closureReason]: 'duplicate' } },
      T1 + HOUR,
    );
    expect(reopened.state!.current!.stage).toBe('lead');
    expect(written(reopened)[P.closureReason]).toBe('');
  });
});

describe('closure from recorded outcomes (seed 003: "use recorded outcomes, plus documented reasons when outcome data is missing")', () => {
  const playbook = fixturePlaybook((p) => {
    p.pipelines[0]!.stages[5]!.closureReasons = ['no_response', 'not_a_fit'];
  });
  // Lead's SLA (2 staffed hours) breaches at 12:00; the default rules name patient_unreachable after 2 unanswered attempts.
  const breachedWith = (attempts: string) => {
    const state = inStage(playbook, 'lead');
    const id = state.current!.entryId;
    const snapshot = snap({ properties: { num_contacted_notes: attempts } });
    return onTimer({
      playbook,
      state,
      snapshot,
      timer: { timerId: timerId(id, 'breach'), kind: 'breach', entryId: id },
      now: MON_10 + 2 * HOUR,
    }).state!;
  };

  it('a visit that breached as patient unreachable closes as "no response", written back by Stagekeeper', () => {
    const state = breachedWith('2');
    expect(state.current!.breachReason).toBe('patient_unreachable');
    const r = move(
      playbook,
      state,
      { stage: 'lost', properties: { num_contacted_notes: '2' } },
      MON_10 + 3 * HOUR,
    );
    expect(only(r, 'moveStage')).toEqual([]);
    expect(r.state!.closedReason).toBe('closed_stage');
    expect(written(r)[P.closureReason]).toBe('no_response');
  });

  it('without that outcome the rep must document a reason; a documented one is never overwritten', () => {
    const other = breachedWith('0');
    expect(other.current!.breachReason).not.toBe('patient_unreachable');
    const r = move(playbook, other, { stage: 'lost' }, MON_10 + 3 * HOUR);
    expect(written(r)[P.gateMissing]).toBe('Closure reason recorded (no response or not a fit)');
    const documented = move(
      playbook,
      breachedWith('2'),
      { stage: 'lost', properties: { [P.closureReason]: 'not_a_fit' } },
      MON_10 + 3 * HOUR,
    );
    expect(documented.state!.closedReason).toBe('closed_stage');
    expect(written(documented)[P.closureReason]).toBeUndefined();
  });
});

describe('schema: shortcuts and closure reasons', () => {
  const issues = (edit: (p: PlaybookInput) => void) => {
    const input = fixtureInput();
    edit(input);
    const r = Playbook.safeParse(input);
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  it('refuses shortcuts naming unknown stages or skipping nothing, and closure reasons on an open stage', () => {
    expect(issues((p) => (p.pipelines[0]!.shortcuts = [{ from: 'lead', to: 'nope' }]))).toEqual([
      'pipelines.0.shortcuts.0.to: unknown stage "nope" in pipeline "tele"',
    ]);
    expect(issues((p) => (p.pipelines[0]!.shortcuts = [{ from: 'lead', to: 'intake' }]))).toEqual([
      'pipelines.0.shortcuts.0.to: a shortcut skips stages: "intake" must come at least two stages after "lead"',
    ]);
    expect(issues((p) => (p.pipelines[0]!.stages[0]!.closureReasons = ['duplicate']))).toEqual([
      'pipelines.0.stages.0.closureReasons: only a closed stage takes closure reasons',
    ]);
  });
});

describe('time in stage (issue 11 item 6)', () => {
  const playbook = fixturePlaybook();
  const props = { ...contacted, docs_ok: 'true', insurance_id: 'x', intake_form_at: String(MON_10) };

  it('is wall time for a calendar-time stage, though its SLA names a calendar', () => {
    // "review" counts 24h of calendar time; it names the clinic calendar only to deliver notices.
    const review = inStage(playbook, 'review', props);
    const left = MON_10 + 26 * HOUR;
    const r = move(playbook, review, { stage: 'won', properties: props }, left);
    expect(only(r, 'recordHistory')[0]!.row).toMatchObject({ stage: 'review', businessMs: 26 * HOUR });
  });

  it('stays staffed time for a business-time stage', () => {
    // Lead counts business time on the clinic calendar (09:00-17:00): 10:00 Monday to 10:00 Tuesday is 8 staffed hours.
    const r = move(
      playbook,
      inStage(playbook, 'lead', props),
      { stage: 'intake', properties: props },
      MON_10 + 24 * HOUR,
    );
    expect(only(r, 'recordHistory')[0]!.row).toMatchObject({ stage: 'lead', businessMs: 8 * HOUR });
  });
});
