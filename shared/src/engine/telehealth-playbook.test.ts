import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { Playbook } from '../playbook/schema';
import { P } from '../properties';
import { at, HOUR, MIN, only, written } from './fixtures';
import { onTimer } from './on-timer';
import { reconcile } from './reconcile';
import { requiredProperties } from './required-properties';
import type { DealSnapshot, DealState, EngineResult } from './types';

// The canonical example playbook; written alongside the engine, so the walk waits for it to exist.
const file = fileURLToPath(new URL('../../playbooks/telehealth-intake.yaml', import.meta.url));
const present = existsSync(file);

const S = {
  newLead: '1180512201',
  attempted: '1180512202',
  started: '1180512203',
  remediation: '1180512204',
  completed: '1180512205',
  review: '1180512206',
  qualified: '1180512207',
  care: '1180512208',
  active: '1180512209',
  notQualified: '1180512210',
  unreachable: '1180512211',
} as const;
const OWNER = '61230455';

describe.runIf(present)('walking the telehealth intake playbook', () => {
  const playbook = Playbook.parse(parse(readFileSync(file, 'utf8')));
  let state: DealState | null = null;
  let props: Record<string, string | null> = {};
  let tasks: DealSnapshot['tasks'] = {};
  let last: DealSnapshot;
  const step = (stage: string, enteredAt: number, now = enteredAt): EngineResult => {
    last = {
      dealId: 'd9',
      exists: true,
      pipeline: '812404417',
      stage,
      ownerId: OWNER,
      stageEnteredAt: enteredAt,
      properties: { ...props },
      tasks: { ...tasks },
    };
    const r = reconcile({ playbook, state, snapshot: last, now });
    state = r.state;
    return r;
  };
  const fire = (kind: 'warning' | 'breach' | 'escalation', now: number, level?: number) => {
    const entryId = state!.current!.entryId;
    const timerId = kind === 'escalation' ? `${entryId}:level:${level}` : `${entryId}:${kind}`;
    const r = onTimer({
      playbook,
      state,
      snapshot: last,
      timer: { timerId, kind, entryId, ...(level !== undefined ? { level } : {}) },
      now,
    });
    state = r.state;
    return r;
  };

  it('reads every stage entry date and criterion property', () => {
    const names = requiredProperties(playbook);
    for (const id of Object.values(S)) expect(names).toContain(`hs_v2_date_entered_${id}`);
    for (const n of [
      'urgency',
      'waiting_on',
      'intake_summary',
      'clinical_risk_level',
      'last_patient_reply_at',
      'first_visit_at',
    ])
      expect(names).toContain(n);
  });

  // Monday 2026-03-02, New York.
  const t0 = at('2026-03-02T10:00:00-05:00');

  it('New Lead: 15 staffed minutes, lead task at breach, stage rules explain it', () => {
    const r = step(S.newLead, t0);
    expect(state!.current!.sla).toMatchObject({ dueAt: t0 + 15 * MIN, targetRule: 'default' });
    expect(
      only(r, 'scheduleTimer')
        .map((t) => t.timerId.split(':').slice(3).join(':'))
        .sort(),
    ).toEqual(['breach', 'level:0', 'level:1', 'warning'].sort());
    const b = onTimer({
      playbook,
      state,
      snapshot: { ...last, ownerOpenTasks: 22 },
      timer: {
        timerId: `${state!.current!.entryId}:breach`,
        kind: 'breach',
        entryId: state!.current!.entryId,
      },
      now: t0 + 15 * MIN,
    });
    state = b.state;
    expect(state!.current!.breachReason).toBe('capacity');
    const l0 = fire('escalation', t0 + 15 * MIN, 0);
    expect(only(l0, 'createTask')[0]).toMatchObject({
      ownerId: '52841901',
      subject: 'New lead not contacted within SLA',
    });
  });

  it('Contact Attempted: the calendar-day re-engagement cadence', () => {
    props = { num_contacted_notes: '1' };
    const enteredAt = t0 + 40 * MIN;
    const r = step(S.attempted, enteredAt);
    expect(only(r, 'recordHistory')[0]!.row).toMatchObject({
      stage: S.newLead,
      slaOutcome: 'breached',
      breachReason: 'capacity',
    });
    const due = Object.fromEntries(
      only(r, 'createTask').map((t) => [t.key.split(':task:')[1] ?? 'sla', t.dueAt]),
    );
    expect(due).toMatchObject({
      reengage_day1: enteredAt + 24 * HOUR,
      reengage_day3: enteredAt + 72 * HOUR,
      reengage_day7: enteredAt + 168 * HOUR,
    });
    expect(state!.current!.sla!.dueAt).toBe(enteredAt + 8 * 24 * HOUR);
  });

  const startedAt = t0 + 2 * HOUR;
  it('Intake Started: pauses while waiting on the patient', () => {
    step(S.started, startedAt);
    props = { ...props, waiting_on: 'patient' };
    expect(written(step(S.started, startedAt, startedAt + HOUR))[P.slaStatus]).toBe('paused');
    props = { ...props, waiting_on: null };
    const r = step(S.started, startedAt, startedAt + 5 * HOUR);
    expect(state!.current!.sla!.dueAt).toBe(startedAt + 48 * HOUR + 4 * HOUR);
    expect(written(r)[P.slaStatus]).toBe('running');
  });

  it('Intake Completed is gated by Intake Started exit criteria: revert, clock keeps running', () => {
    const entryId = state!.current!.entryId;
    const r = step(S.completed, startedAt + 6 * HOUR);
    expect(only(r, 'moveStage')).toEqual([{ type: 'moveStage', toStage: S.started, reason: 'gate_revert' }]);
    expect(written(r)[P.gateMissing]).toBe('Identity and insurance verified; Intake form submitted');
    step(S.started, startedAt + 6 * HOUR + MIN);
    expect(state!.current!.entryId).toBe(entryId);
    tasks = { [`${entryId}:task:verify_identity`]: 'COMPLETED' };
    props = { ...props, intake_form_submitted_at: String(startedAt + 7 * HOUR) };
    const ok = step(S.completed, startedAt + 8 * HOUR);
    expect(only(ok, 'recordHistory')[0]!.row).toMatchObject({ stage: S.started, slaOutcome: 'met' });
    expect(state!.current!.sla!.targetMs).toBe(4 * HOUR);
  });

  it('Clinical Review Queue routes an incomplete chart to Intake Remediation', () => {
    const r = step(S.review, startedAt + 9 * HOUR);
    expect(only(r, 'moveStage')).toEqual([
      { type: 'moveStage', toStage: S.remediation, reason: 'gate_remediation' },
    ]);
    const e = step(S.remediation, startedAt + 9 * HOUR + MIN);
    expect(state!.current!.stage).toBe(S.remediation);
    expect(state!.backflowCount).toBe(0);
    expect(only(e, 'createTask').map((t) => t.key)).toContain(
      `${state!.current!.entryId}:task:request_missing_items`,
    );
  });

  it('000 "auto-page team lead at 3 hours": Intake Completed pages the Intake Ops lead at 3 of 4 business hours', () => {
    props = {
      ...props,
      intake_documents_received: 'true',
      intake_summary: 'done',
      clinical_risk_level: 'high',
    };
    // Monday 2026-03-02 10:00 New York + 10h = 20:00, after business hours: the 4 hours count from Tuesday 08:00.
    const completedAt = startedAt + 10 * HOUR;
    const r = step(S.completed, completedAt);
    const tuesday8 = at('2026-03-03T08:00:00-05:00');
    expect(state!.current!.sla).toMatchObject({ targetMs: 4 * HOUR, dueAt: tuesday8 + 4 * HOUR });
    expect(state!.current!.ownerRole).toBe('intake_ops');
    expect(only(r, 'createTask').map((t) => t.key.split(':').pop())).toEqual([
      'sla',
      'quality_check',
      'route_to_clinical_queue',
    ]);
    const page = fire('escalation', tuesday8 + 3 * HOUR, 0);
    expect(only(page, 'createTask')[0]).toMatchObject({
      ownerId: '61230440',
      subject: 'Page: intake waiting 3h for clinical review',
    });
  });

  it('000 "No transition should happen with missing critical fields": skipping Clinical Review Queue is blocked', () => {
    props = {
      ...props,
      chart_packet_ready: 'true',
      chart_packet_assignee_id: '70315521',
      clinical_decision: 'qualified',
    };
    const r = step(S.qualified, state!.current!.enteredAt + 2 * HOUR);
    expect(written(r)[P.gateMissing]).toBe('Clinical Review Queue: Reviewing provider recorded');
    expect(only(r, 'moveStage')).toEqual([
      { type: 'moveStage', toStage: S.completed, reason: 'gate_revert' },
    ]);
  });

  it('a complete chart with a high risk flag gets the 2-hour override, then qualifies', () => {
    step(S.completed, state!.current!.enteredAt + 2 * HOUR + MIN);
    step(S.review, startedAt + 30 * HOUR);
    expect(state!.current!.sla).toMatchObject({ targetRule: 'overrides[0]', targetMs: 2 * HOUR });
    props = { ...props, reviewing_provider_id: '80112045', clinical_decision: 'qualified' };
    const q = step(S.qualified, startedAt + 31 * HOUR);
    expect(state!.current!.ownerRole).toBe('provider_team');
    expect(only(q, 'createTask').find((t) => t.key.endsWith(':task:welcome_call'))).toMatchObject({
      priority: 'HIGH',
      taskType: 'CALL',
    });
  });

  it('Not Qualified is closed and held to its own entry criteria only', () => {
    const blocked = step(S.notQualified, startedAt + 32 * HOUR);
    expect(only(blocked, 'moveStage')[0]).toMatchObject({ toStage: S.qualified });
    props = { ...props, not_qualified_reason: 'out of area' };
    const r = step(S.notQualified, startedAt + 33 * HOUR);
    expect(state!.closedReason).toBe('closed_stage');
    expect(only(r, 'scheduleTimer')).toEqual([]);
  });

  it('a reopened Not Qualified deal cannot start care unless the clinical decision is "qualified"', () => {
    props = { ...props, clinical_decision: 'not_qualified' };
    const r = step(S.care, startedAt + 34 * HOUR);
    expect(written(r)[P.gateMissing]).toBe('Clinical decision is "qualified"');
    expect(only(r, 'moveStage')).toEqual([
      { type: 'moveStage', toStage: S.notQualified, reason: 'gate_revert' },
    ]);
  });
});

describe.runIf(present)(
  'the re-engagement cadence ends in Unreachable with a closure reason (000, 003)',
  () => {
    const playbook = Playbook.parse(parse(readFileSync(file, 'utf8')));
    const t0 = at('2026-03-02T10:00:00-05:00');
    const snapAt = (
      stage: string,
      enteredAt: number,
      properties: Record<string, string | null> = {},
    ): DealSnapshot => ({
      dealId: 'd10',
      exists: true,
      pipeline: '812404417',
      stage,
      ownerId: '52841907',
      stageEnteredAt: enteredAt,
      properties: { num_contacted_notes: '1', ...properties },
      tasks: {},
    });

    it("needs one of 003's closure reasons, then closes with no clock and no tasks", () => {
      const attempted = reconcile({
        playbook,
        state: null,
        snapshot: snapAt(S.attempted, t0),
        now: t0,
      }).state!;
      const day8 = t0 + 8 * 24 * HOUR;
      const blocked = reconcile({
        playbook,
        state: attempted,
        snapshot: snapAt(S.unreachable, day8),
        now: day8,
      });
      expect(written(blocked)[P.gateMissing]).toBe(
        'Closure reason recorded (no response, not a fit, duplicate or out of coverage)',
      );
      const closed = reconcile({
        playbook,
        state: attempted,
        snapshot: snapAt(S.unreachable, day8, { [P.closureReason]: 'no_response' }),
        now: day8,
      });
      expect(closed.state!.closedReason).toBe('closed_stage');
      expect(closed.state!.current!.ownerRole).toBe('growth_ops');
      expect(only(closed, 'createTask')).toEqual([]);
      // Seed 003's closure reasons: the row of the move into a closed stage carries the reason for the scorecard.
      expect(only(closed, 'recordHistory')[0]!.row).toMatchObject({
        stage: S.attempted,
        toStage: S.unreachable,
        closureReason: 'no_response',
      });
    });
  },
);
