import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLOSURE_REASONS, loadExamplePlaybook, P, Playbook, type PlaybookInput } from '@stagekeeper/shared';
import { TELEHEALTH } from '@stagekeeper/sync-service/demo/playbook';
import { startE2E, type E2E } from './harness';

/**
 * Seed 000 ("Telehealth CRM Pipeline Design: Stages, Owners, and SLAs") as a contract, walked through the service
 * and the sandbox portal over HTTP with real Redis. Each scenario names the seed line it proves. The clock is one
 * manual clock shared by portal and service, starting Monday 2026-11-23 09:00 New York, and only moves forward,
 * so the scenarios run in the order written.
 */

const PIPELINE = TELEHEALTH.pipeline;
const S = {
  ...TELEHEALTH.stages,
  qualified: '1180512207',
  startedCare: '1180512208',
  active: '1180512209',
  notQualified: '1180512210',
  unreachable: '1180512211',
} as const;
// A second pipeline for moves between pipelines (seed 001, phase 5: "Missed refill windows should transition into
// an owned recovery workflow"); the canonical pipeline is untouched.
const LAPSED_PIPELINE = '812404418';
const LAPSED = '1180512301';

const LEADS = {
  growth_ops: '52841901',
  intake_ops: '61230440',
  clinical_ops: '70315510',
  provider_team: '80112001',
  patient_success: '90440300',
};
const REP = '61230455'; // an intake coordinator
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const ms = (v: string | null | undefined) => (v && /^\d+$/.test(v) ? Number(v) : Date.parse(v ?? ''));

function contractPlaybook(): Playbook {
  const input = structuredClone(loadExamplePlaybook('telehealth')) as unknown as PlaybookInput;
  input.pipelines.push({
    id: LAPSED_PIPELINE,
    label: 'Re-engagement',
    stages: [
      {
        id: LAPSED,
        label: 'Lapsed',
        ownerRole: 'patient_success',
        entryCriteria: [
          { op: 'present', property: 'refill_window_missed_at', label: 'Missed refill window recorded' },
        ],
      },
    ],
  });
  return Playbook.parse(input);
}

let e: E2E;
beforeAll(async () => {
  e = await startE2E({ playbook: contractPlaybook() });
});
afterAll(async () => {
  await e?.close();
});

const actor = { userId: Number(REP) };
const create = (stage: string, extra: Record<string, string> = {}) =>
  e.portal.ui.createDeal(
    { dealname: 'Intake request', pipeline: PIPELINE, dealstage: stage, hubspot_owner_id: REP, ...extra },
    actor,
  ).id;
const move = async (id: string, stage: string) => {
  // A minute between moves: HubSpot never stamps two stage entries of one deal in the same millisecond.
  await e.advance(MIN);
  e.portal.ui.moveDeal(id, stage, actor);
  await e.settle();
};
const entered = (id: string, stage: string) => ms(e.props(id)[`hs_v2_date_entered_${stage}`]);
const taskOf = (id: string, stage: string, suffix: string) =>
  e.tasks(id).find((t) => t.key.includes(`:${stage}:`) && t.key.endsWith(suffix));
const leadTasks = (id: string, lead: string) =>
  e.openTasks(id).filter((t) => t.owner === lead && t.key.includes(':level:'));

describe('000 "Owner model: one stage, one accountable role" (lines 64-72), walked stage by stage', () => {
  it("each stage is owned by 000's role, and a deal with every item in place passes each gate", async () => {
    const id = create(S.newLead, { intake_form_submitted_at: String(e.clock.now()) });
    await e.settle();
    // The stage's role as Stagekeeper wrote it back, checked against who owns the deal in HubSpot: with the
    // playbook's `assignment: assignDeal`, each observed move hands the deal to a member of the stage's role.
    // (A deal first seen keeps the owner it was created with: no move was observed, so nothing is routed.)
    const roles = contractPlaybook().roles;
    const role = () => {
      const p = e.props(id);
      const held = roles.find((r) => r.id === p[P.stageOwnerRole]);
      expect(held?.owners, `owner ${p.hubspot_owner_id} in role ${p[P.stageOwnerRole]}`).toContain(
        p.hubspot_owner_id,
      );
      return p[P.stageOwnerRole];
    };
    // "Growth/Ops owns New Lead and Contact Attempted"
    expect([e.props(id).dealstage, e.props(id)[P.stageOwnerRole], e.props(id).hubspot_owner_id]).toEqual([
      S.newLead,
      'growth_ops',
      REP,
    ]);
    e.portal.ui.logContactAttempt(id, actor);
    await move(id, S.contactAttempted);
    expect([e.props(id).dealstage, role()]).toEqual([S.contactAttempted, 'growth_ops']);
    // "Intake Ops owns Intake Started and Intake Completed"
    await move(id, S.intakeStarted);
    expect([e.props(id).dealstage, role()]).toEqual([S.intakeStarted, 'intake_ops']);
    e.portal.ui.completeTask(taskOf(id, S.intakeStarted, ':task:verify_identity')!.id, actor);
    await move(id, S.intakeCompleted);
    expect([e.props(id).dealstage, role()]).toEqual([S.intakeCompleted, 'intake_ops']);
    // "Clinical Ops owns Clinical Review Queue"
    e.portal.ui.setProperties(
      id,
      {
        chart_packet_ready: 'true',
        chart_packet_assignee_id: '70315521',
        intake_summary: 'structured',
        intake_documents_received: 'true',
        clinical_risk_level: 'low',
      },
      actor,
    );
    await move(id, S.clinicalReview);
    expect([e.props(id).dealstage, role()]).toEqual([S.clinicalReview, 'clinical_ops']);
    // "Provider Team owns Qualified / Not Qualified"
    e.portal.ui.setProperties(
      id,
      { reviewing_provider_id: '80112045', clinical_decision: 'qualified' },
      actor,
    );
    await move(id, S.qualified);
    expect([e.props(id).dealstage, role()]).toEqual([S.qualified, 'provider_team']);
    // "Patient Success owns Started Care and Active / Retention"
    e.portal.ui.completeTask(taskOf(id, S.qualified, ':task:welcome_call')!.id, actor);
    e.portal.ui.setProperty(id, 'first_visit_at', String(e.clock.now() + 2 * DAY), actor);
    await move(id, S.startedCare);
    expect([e.props(id).dealstage, role()]).toEqual([S.startedCare, 'patient_success']);
    e.portal.ui.setProperty(id, 'care_plan_documented', 'true', actor);
    await move(id, S.active);
    expect([e.props(id).dealstage, role()]).toEqual([S.active, 'patient_success']);
    expect(e.props(id)[P.gateStatus]).toBe('clear');
    expect(e.props(id)[P.backflowCount] ?? '0').toBe('0');
  });

  it('"Provider Team owns Qualified / Not Qualified": the closed outcome too', async () => {
    const id = create(S.clinicalReview, {
      reviewing_provider_id: '80112045',
      not_qualified_reason: 'outside program criteria',
    });
    await e.settle();
    await move(id, S.notQualified);
    expect([e.props(id).dealstage, e.props(id)[P.stageOwnerRole]]).toEqual([S.notQualified, 'provider_team']);
  });
});

describe('000 "No-response re-engagement: day 1, day 3, day 7 cadence" (line 91)', () => {
  it('gives Contact Attempted three attempts due 1, 3 and 7 calendar days after entry', async () => {
    const id = create(S.newLead);
    await e.settle();
    e.portal.ui.logContactAttempt(id, actor);
    await move(id, S.contactAttempted);
    const at = entered(id, S.contactAttempted);
    const due = (day: string) => taskOf(id, S.contactAttempted, `:task:reengage_${day}`)!.dueAt;
    expect([due('day1'), due('day3'), due('day7')]).toEqual([at + DAY, at + 3 * DAY, at + 7 * DAY]);
  });
});

describe('000 "Route incomplete records to remediation instead of advancing stage state" and closures (lines 113-120; 003)', () => {
  it('"No transition should happen with missing critical fields": New Lead -> Started Care names every skipped stage\'s gap', async () => {
    const id = create(S.newLead, { clinical_decision: 'qualified' });
    await e.settle();
    e.portal.ui.logContactAttempt(id, actor);
    await move(id, S.startedCare);
    const p = e.props(id);
    expect(p.dealstage).toBe(S.newLead);
    expect(p[P.gateStatus]).toBe('blocked_reverted');
    expect(p[P.gateMissing]).toBe(
      [
        'Intake Started: Identity and insurance verified',
        'Intake Started: Intake form submitted',
        'Intake Completed: Chart packet ready',
        'Intake Completed: Chart packet assigned',
        'Clinical Review Queue: Reviewing provider recorded',
        'Qualified: Welcome call done',
        'Qualified: First visit booked (next action in the future)',
      ].join('; '),
    );
    const task = e.openTasks(id).find((t) => t.key.includes(':remediation:'))!;
    expect(task.body).toContain('- Clinical Review Queue: Reviewing provider recorded');
  });

  it('Intake Completed -> Qualified skips Clinical Review Queue and is sent back', async () => {
    const id = create(S.intakeCompleted, {
      chart_packet_ready: 'true',
      chart_packet_assignee_id: '70315521',
      clinical_decision: 'qualified',
    });
    await e.settle();
    await move(id, S.qualified);
    expect(e.props(id).dealstage).toBe(S.intakeCompleted);
    expect(e.props(id)[P.gateMissing]).toBe('Clinical Review Queue: Reviewing provider recorded');
  });

  it('an incomplete chart sent to Clinical Review Queue is routed to Intake Remediation', async () => {
    const id = create(S.intakeCompleted, {
      chart_packet_ready: 'true',
      chart_packet_assignee_id: '70315521',
    });
    await e.settle();
    await move(id, S.clinicalReview);
    expect(e.props(id).dealstage).toBe(S.remediation);
    expect(e.props(id)[P.gateMissing]).toBe(
      'Structured intake summary; Required intake documents received; Risk flag set',
    );
  });

  it("a move into another pipeline meets the target's entry criteria, else it goes back across pipelines", async () => {
    const id = create(S.active);
    await e.settle();
    await move(id, LAPSED);
    expect([e.props(id).pipeline, e.props(id).dealstage]).toEqual([PIPELINE, S.active]);
    expect(e.props(id)[P.gateMissing]).toBe('Missed refill window recorded');
    e.portal.ui.setProperty(id, 'refill_window_missed_at', String(e.clock.now()), actor);
    await move(id, LAPSED);
    expect([e.props(id).pipeline, e.props(id).dealstage, e.props(id)[P.stageOwnerRole]]).toEqual([
      LAPSED_PIPELINE,
      LAPSED,
      'patient_success',
    ]);
  });

  it("after the cadence the lead closes as Unreachable only with a closure reason from 003's list, kept as a reportable enumeration", async () => {
    // 003: "Closure reasons are why leads end, such as no response, not a fit, duplicate, or service out of coverage area."
    const property = e.portal.catalogs.deals.get(P.closureReason)!;
    expect([property.type, property.options?.map((o) => o.value)]).toEqual([
      'enumeration',
      [...CLOSURE_REASONS],
    ]);
    const id = create(S.newLead);
    await e.settle();
    e.portal.ui.logContactAttempt(id, actor);
    await move(id, S.contactAttempted);
    await move(id, S.unreachable);
    expect(e.props(id).dealstage).toBe(S.contactAttempted);
    expect(e.props(id)[P.gateMissing]).toBe(
      'Closure reason recorded (no response, not a fit, duplicate or out of coverage)',
    );
    // HubSpot refuses a value outside the enumeration's options.
    expect(() => e.portal.ui.setProperty(id, P.closureReason, 'gave_up', actor)).toThrow();
    e.portal.ui.setProperty(id, P.closureReason, 'no_response', actor);
    await move(id, S.unreachable);
    const p = e.props(id);
    expect([p.dealstage, p[P.closureReason], p[P.stageOwnerRole]]).toEqual([
      S.unreachable,
      'no_response',
      'growth_ops',
    ]);
    // The cadence is over: its open attempts are closed, and a closed stage starts no clock.
    expect(e.openTasks(id)).toEqual([]);
    expect(p[P.slaDueAt] ?? '').toBe('');
  });
});

describe('000 "Intake Completed -> Clinical Review Queue: <= 4 business hours", "auto-page team lead at 3 hours" (lines 57-62, 84)', () => {
  let id: string;
  let at: number;
  it('counts 4 business hours from entry and tasks the Intake Ops coordinator with quality check and routing', async () => {
    id = create(S.intakeCompleted);
    await e.settle();
    at = entered(id, S.intakeCompleted);
    expect(ms(e.props(id)[P.slaDueAt])).toBe(at + 4 * HOUR);
    const open = e.openTasks(id).map((t) => t.key.split(':').pop());
    expect(open).toEqual(expect.arrayContaining(['sla', 'quality_check', 'route_to_clinical_queue']));
  });

  it('"send warning at 70-80% of SLA window": warned at 70 % (2h48m), before the page', async () => {
    await e.advance(at + 2 * HOUR + 50 * MIN - e.clock.now());
    expect(e.props(id)[P.slaStatus]).toBe('warning');
    expect(leadTasks(id, LEADS.intake_ops)).toEqual([]);
  });

  it('"Escalation: auto-page team lead at 3 hours": the Intake Ops lead, not the Clinical Ops lead', async () => {
    await e.advance(at + 3 * HOUR - e.clock.now());
    const page = leadTasks(id, LEADS.intake_ops);
    expect(page.map((t) => t.subject)).toEqual(['Page: intake waiting 3h for clinical review']);
    expect(leadTasks(id, LEADS.clinical_ops)).toEqual([]);
  });

  it('"escalate to lead on breach" (line 103): breached at 4 hours, the lead tasked and the review expedited', async () => {
    await e.advance(at + 4 * HOUR - e.clock.now());
    const p = e.props(id);
    expect([p[P.slaStatus], p[P.breachStage]]).toEqual(['breached', S.intakeCompleted]);
    expect(ms(p[P.slaBreachedAt])).toBe(at + 4 * HOUR);
    expect(p.clinical_review_priority).toBe('expedite');
    expect(leadTasks(id, LEADS.intake_ops).map((t) => t.subject)).toContain(
      'Intake Completed -> Clinical Review Queue SLA breached',
    );
  });
});

describe('000 "New Lead -> Contact Attempted: <= 15 minutes during staffed hours" (line 83)', () => {
  it('counts staffed minutes only: a lead arriving in the 15:30-16:00 shift handover is due at 16:15', async () => {
    // Monday 15:40 New York = 20:40Z.
    await e.advance(Date.parse('2026-11-23T20:40:00Z') - e.clock.now());
    const id = create(S.newLead);
    await e.settle();
    expect(e.props(id)[P.stageOwnerRole]).toBe('growth_ops');
    expect(ms(e.props(id)[P.slaDueAt])).toBe(Date.parse('2026-11-23T21:15:00Z'));
    // Breach goes to the Growth/Ops lead.
    await e.advance(Date.parse('2026-11-23T21:15:00Z') - e.clock.now());
    expect(e.props(id)[P.slaStatus]).toBe('breached');
    expect(leadTasks(id, LEADS.growth_ops).map((t) => t.subject)).toEqual([
      'New lead not contacted within SLA',
    ]);
  });
});

describe('000 "Qualified -> Started Care next-step outreach: <= 2 business hours" (line 85)', () => {
  it('counts business hours: a decision at 17:00 Monday is due 09:00 Tuesday, escalated to the Provider Team lead', async () => {
    // Monday 17:00 New York = 22:00Z; business hours are 08:00-18:00.
    await e.advance(Date.parse('2026-11-23T22:00:00Z') - e.clock.now());
    const id = create(S.qualified, { clinical_decision: 'qualified' });
    await e.settle();
    const tuesday9 = Date.parse('2026-11-24T14:00:00Z');
    expect(e.props(id)[P.stageOwnerRole]).toBe('provider_team');
    expect(ms(e.props(id)[P.slaDueAt])).toBe(tuesday9);
    expect(taskOf(id, S.qualified, ':task:welcome_call')).toBeDefined();
    await e.advance(tuesday9 - e.clock.now());
    expect(e.props(id)[P.slaStatus]).toBe('breached');
    expect(leadTasks(id, LEADS.provider_team).map((t) => t.subject)).toEqual([
      'Qualified patient not contacted within 2 business hours',
    ]);
  });
});

describe('003 "Closure should not be based only on an agent\'s internal judgment. It should use recorded outcomes" (line 46)', () => {
  it('a cadence that ran out unanswered (breach: patient unreachable) closes as "no response", written back by Stagekeeper', async () => {
    const id = create(S.newLead);
    await e.settle();
    e.portal.ui.logContactAttempt(id, actor);
    await move(id, S.contactAttempted);
    const at = entered(id, S.contactAttempted);
    // Day 1, 3 and 7 attempts logged, none answered.
    for (const day of [1, 3, 7]) {
      await e.advance(at + day * DAY - e.clock.now());
      e.portal.ui.logContactAttempt(id, actor);
    }
    // 000 "escalate to lead on breach": the cadence's 8 days are over.
    await e.advance(at + 8 * DAY - e.clock.now());
    expect([e.props(id)[P.slaStatus], e.props(id)[P.breachReason]]).toEqual([
      'breached',
      'patient_unreachable',
    ]);
    expect(leadTasks(id, LEADS.growth_ops).map((t) => t.subject)).toContain(
      'Re-engagement cadence over: close as Unreachable or move on',
    );
    await move(id, S.unreachable);
    const p = e.props(id);
    expect([p.dealstage, p[P.closureReason], p[P.gateStatus]]).toEqual([
      S.unreachable,
      'no_response',
      'clear',
    ]);
  });
});
