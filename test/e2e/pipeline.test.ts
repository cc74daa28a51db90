import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { P } from '@stagekeeper/shared';
import { TELEHEALTH } from '@stagekeeper/sync-service/demo/playbook';
import { startE2E, type E2E } from './harness';

// Canonical telehealth playbook ids (shared/playbooks/telehealth-intake.yaml), as the demo drives them.
const PIPELINE = TELEHEALTH.pipeline;
const S = TELEHEALTH.stages;
const GROWTH_REP = '52841907';
const GROWTH_REP_2 = '52841913';
const GROWTH_LEAD = '52841901';
const CLINICAL_REP = '70315521';
const MIN = 60_000;
/** HubSpot returns datetimes as ISO strings; we write epoch-ms strings. Read both. */
const ms = (v: string | null | undefined) => (v && /^\d+$/.test(v) ? Number(v) : Date.parse(v ?? ''));

let e: E2E;
beforeAll(async () => {
  e = await startE2E();
});
afterAll(async () => {
  await e?.close();
});

const newDeal = (extra: Record<string, string> = {}, owner = GROWTH_REP) =>
  e.portal.ui.createDeal(
    {
      dealname: 'Intake request',
      pipeline: PIPELINE,
      dealstage: S.newLead,
      hubspot_owner_id: owner,
      ...extra,
    },
    { userId: Number(owner) },
  ).id;

describe('a deal walking the canonical telehealth pipeline', () => {
  it('gets a task on stage entry for the right owner, due from the SLA in staffed time', async () => {
    const id = newDeal();
    await e.settle();
    const entered = Date.parse(e.props(id)[`hs_v2_date_entered_${S.newLead}`]!);
    const open = e.openTasks(id);
    expect(open).toHaveLength(1);
    expect(open[0]!.key).toBe(`${id}:${S.newLead}:${entered}:sla`);
    expect(open[0]!.owner).toBe(GROWTH_REP);
    // Monday 09:00 New York is inside the intake calendar: 15 staffed minutes are 15 real minutes.
    expect(open[0]!.dueAt).toBe(entered + 15 * MIN);
    const p = e.props(id);
    expect(p[P.slaStatus]).toBe('running');
    expect(p[P.stageOwnerRole]).toBe('growth_ops');
    expect(ms(p[P.slaDueAt])).toBe(entered + 15 * MIN);
  });

  it('completes the old stage task and creates the next stage tasks on a valid forward move', async () => {
    const id = newDeal();
    await e.settle();
    e.portal.ui.logContactAttempt(id, { userId: Number(GROWTH_REP) });
    e.portal.ui.moveDeal(id, S.contactAttempted, { userId: Number(GROWTH_REP) });
    await e.settle();
    expect(e.props(id).dealstage).toBe(S.contactAttempted);
    const all = e.tasks(id);
    const sla1 = all.find((t) => t.key.includes(`:${S.newLead}:`) && t.key.endsWith(':sla'))!;
    expect(sla1.status).toBe('COMPLETED');
    const open = e.openTasks(id);
    // The SLA task plus the day 1 / 3 / 7 re-engagement cadence.
    expect(open.map((t) => t.key.split(':').pop()).sort()).toEqual([
      'reengage_day1',
      'reengage_day3',
      'reengage_day7',
      'sla',
    ]);
    expect(open.every((t) => t.owner === GROWTH_REP)).toBe(true);
    expect(e.props(id)[P.slaStatus]).toBe('running');
  });

  it('reverts a forward move that misses the exit criteria, with a task naming what is missing', async () => {
    const id = newDeal();
    await e.settle();
    e.portal.ui.moveDeal(id, S.contactAttempted, { userId: Number(GROWTH_REP) });
    await e.settle();
    const p = e.props(id);
    expect(p.dealstage).toBe(S.newLead);
    expect(p[P.gateStatus]).toBe('blocked_reverted');
    expect(p[P.gateMissing]).toContain('First contact attempt logged');
    const remediation = e.openTasks(id).find((t) => t.key.includes(':remediation:'))!;
    expect(remediation).toBeDefined();
    expect(`${remediation.subject}\n${remediation.body}`).toContain('First contact attempt logged');
    // The revert must not restart the New Lead clock: still one SLA task for the visit.
    expect(e.tasks(id).filter((t) => t.key.endsWith(':sla'))).toHaveLength(1);
  });

  it('passes a gate on a task the rep completed just before moving, which Stagekeeper had not read yet', async () => {
    const id = newDeal({}, CLINICAL_REP);
    await e.settle();
    e.portal.ui.logContactAttempt(id, { userId: Number(CLINICAL_REP) });
    e.portal.ui.moveDeal(id, S.intakeStarted, { userId: Number(CLINICAL_REP) });
    await e.settle();
    expect(e.props(id).dealstage).toBe(S.intakeStarted);
    const verify = e.openTasks(id).find((t) => t.key.endsWith(':task:verify_identity'))!;
    e.portal.ui.completeTask(verify.id, { userId: Number(CLINICAL_REP) });
    e.portal.ui.setProperties(
      id,
      { intake_form_submitted_at: String(e.clock.now()) },
      { userId: Number(CLINICAL_REP) },
    );
    e.portal.ui.moveDeal(id, S.intakeCompleted, { userId: Number(CLINICAL_REP) });
    await e.settle();
    const p = e.props(id);
    expect(p.dealstage).toBe(S.intakeCompleted);
    expect(p[P.gateStatus]).not.toMatch(/^blocked/);
    // The rep's completion stands: not re-labelled as cancelled by the stage exit.
    expect(e.tasks(id).find((t) => t.id === verify.id)!.subject).not.toContain('[Cancelled]');
  });

  it('routes an incomplete intake to the remediation stage', async () => {
    const id = newDeal({ intake_form_submitted_at: String(e.clock.now()) }, CLINICAL_REP);
    const rep = { userId: Number(CLINICAL_REP) };
    await e.settle();
    // Jumping New Lead -> Intake Completed (an admin fixing the stage) must meet the exits of New Lead and of the
    // stages it skips (seed 000: "No transition should happen with missing critical fields").
    e.portal.ui.setProperties(id, { dealstage: S.intakeCompleted }, rep);
    await e.settle();
    expect(e.props(id).dealstage).toBe(S.newLead);
    expect(e.props(id)[P.gateMissing]).toBe(
      'First contact attempt logged; Intake Started: Identity and insurance verified',
    );
    // Walk it there instead: contact, Intake Started, verification, Intake Completed with a ready, assigned chart.
    await e.advance(MIN);
    e.portal.ui.logContactAttempt(id, rep);
    e.portal.ui.moveDeal(id, S.intakeStarted, rep);
    await e.settle();
    const verify = e.openTasks(id).find((t) => t.key.endsWith(':task:verify_identity'))!;
    e.portal.ui.completeTask(verify.id, rep);
    await e.advance(MIN);
    e.portal.ui.moveDeal(id, S.intakeCompleted, rep);
    await e.settle();
    expect(e.props(id).dealstage).toBe(S.intakeCompleted);
    e.portal.ui.setProperties(
      id,
      { chart_packet_ready: 'true', chart_packet_assignee_id: CLINICAL_REP },
      rep,
    );
    await e.advance(MIN);
    e.portal.ui.moveDeal(id, S.clinicalReview, rep);
    await e.settle();
    const p = e.props(id);
    expect(p.dealstage).toBe(S.remediation);
    expect(p[P.gateStatus]).toBe('blocked_remediation');
    for (const item of ['Structured intake summary', 'Required intake documents received', 'Risk flag set'])
      expect(p[P.gateMissing]).toContain(item);
  });

  it('warns, then breaches and escalates to the lead with breach-reason properties written', async () => {
    const id = newDeal();
    await e.settle();
    await e.advance(12 * MIN); // 80 % of 15 minutes: past the 75 % warning
    expect(e.props(id)[P.slaStatus]).toBe('warning');
    expect(e.openTasks(id).some((t) => t.key.endsWith(':warning'))).toBe(true);

    await e.advance(4 * MIN); // 16 minutes: breached
    const p = e.props(id);
    expect(p[P.slaStatus]).toBe('breached');
    expect(p[P.breachCount]).toBe('1');
    expect(p[P.breachStage]).toBe(S.newLead);
    expect(p[P.breachReasonSource]).toBe('inferred');
    expect(p[P.breachReason]).toBeTruthy();
    // The breach is stamped at the SLA deadline, not when the timer job happened to run.
    expect(ms(p[P.slaBreachedAt])).toBe(ms(p[`hs_v2_date_entered_${S.newLead}`]) + 15 * MIN);
    const leadTask = e.openTasks(id).find((t) => t.owner === GROWTH_LEAD);
    expect(leadTask?.subject).toContain('New lead not contacted within SLA');
  });

  it('counts a backward move as backflow', async () => {
    const id = newDeal();
    await e.settle();
    e.portal.ui.logContactAttempt(id, { userId: Number(GROWTH_REP) });
    e.portal.ui.moveDeal(id, S.contactAttempted, { userId: Number(GROWTH_REP) });
    await e.settle();
    e.portal.ui.moveDeal(id, S.newLead, { userId: Number(GROWTH_REP) });
    await e.settle();
    expect(e.props(id).dealstage).toBe(S.newLead);
    expect(e.props(id)[P.backflowCount]).toBe('1');
  });

  it('pauses while waiting on the patient and moves the SLA task due time on resume', async () => {
    const id = newDeal();
    await e.settle();
    e.portal.ui.logContactAttempt(id, { userId: Number(GROWTH_REP) });
    e.portal.ui.moveDeal(id, S.contactAttempted, { userId: Number(GROWTH_REP) });
    await e.settle();
    e.portal.ui.moveDeal(id, S.intakeStarted, { userId: Number(GROWTH_REP) });
    await e.settle();
    const slaTask = () =>
      e.openTasks(id).find((t) => t.key.includes(`:${S.intakeStarted}:`) && t.key.endsWith(':sla'))!;
    const due = slaTask().dueAt;
    e.portal.ui.setProperty(id, 'waiting_on', 'patient', { userId: Number(GROWTH_REP) });
    await e.settle();
    expect(e.props(id)[P.slaStatus]).toBe('paused');
    await e.advance(60 * MIN);
    e.portal.ui.setProperty(id, 'waiting_on', 'clinic', { userId: Number(GROWTH_REP) });
    await e.settle();
    expect(e.props(id)[P.slaStatus]).toBe('running');
    // Intake Started counts calendar time: an hour paused moves the deadline by an hour.
    expect(slaTask().dueAt).toBe(due + 60 * MIN);
    expect(ms(e.props(id)[P.slaDueAt])).toBe(due + 60 * MIN);
  });

  it('records an owner change as handoff evidence with a task for the new owner', async () => {
    const id = newDeal();
    await e.settle();
    e.portal.ui.setOwner(id, GROWTH_REP_2, { userId: Number(GROWTH_REP) });
    await e.settle();
    const handoff = e.openTasks(id).find((t) => t.key.includes('handoff'));
    expect(handoff?.owner).toBe(GROWTH_REP_2);
  });
});
