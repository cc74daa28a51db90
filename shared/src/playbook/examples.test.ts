import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EXAMPLE_PLAYBOOKS, type ExamplePlaybookName } from './examples';
import { formatPlaybookErrors } from './load';
import { loadExamplePlaybook, loadPlaybookFile } from './load-file';
import type { Stage } from './schema';

const names = Object.keys(EXAMPLE_PLAYBOOKS) as ExamplePlaybookName[];

describe('example playbooks', () => {
  it.each(names)('%s validates', (name) => {
    const r = loadPlaybookFile(EXAMPLE_PLAYBOOKS[name]);
    expect(r.ok ? 'ok' : formatPlaybookErrors(r.errors)).toBe('ok');
  });

  it.each(names)('%s points editors at the JSON Schema on its first line', (name) => {
    const first = readFileSync(EXAMPLE_PLAYBOOKS[name], 'utf8').split('\n')[0];
    expect(first).toBe('# yaml-language-server: $schema=./playbook.schema.json');
  });

  it.each(names)(
    '%s uses HubSpot-shaped ids: digit owner and team ids, stage ids unique across pipelines',
    (name) => {
      const p = loadExamplePlaybook(name);
      for (const r of p.roles)
        for (const id of [r.lead, ...r.owners, ...r.teams]) expect(id).toMatch(/^\d+$/);
      const stageIds = p.pipelines.flatMap((pl) => pl.stages.map((s) => s.id));
      expect(new Set(stageIds).size).toBe(stageIds.length);
    },
  );
});

// The canonical playbook is seed 000 ("Telehealth CRM Pipeline Design: Stages, Owners, and SLAs") exactly; each
// test quotes the seed line it holds the playbook to.
describe('canonical telehealth playbook (seed 000)', () => {
  const p = loadExamplePlaybook('telehealth');
  const pipeline = p.pipelines[0]!;
  const stages = pipeline.stages;
  const byLabel = (label: string): Stage => {
    const s = stages.find((x) => x.label === label);
    if (!s) throw new Error(`no stage "${label}"`);
    return s;
  };
  const role = (id: string) => p.roles.find((r) => r.id === id)!;
  const CORE = [
    'New Lead',
    'Contact Attempted',
    'Intake Started',
    'Intake Completed',
    'Clinical Review Queue',
    'Qualified',
    'Started Care',
    'Active / Retention',
  ];

  it('000 "Use one canonical pipeline across teams: 1. New Lead ... 8. Active / Retention": core stages in that order', () => {
    expect(pipeline.id).toBe('812404417');
    const open = stages.filter((s) => !s.closed).map((s) => s.label);
    expect(open.filter((l) => CORE.includes(l))).toEqual(CORE);
    // The only other open stage is the remediation detour ("Route incomplete records to remediation").
    expect(open.filter((l) => !CORE.includes(l))).toEqual(['Intake Remediation']);
    // Closed outcomes: "Qualified / Not Qualified", and Unreachable after the re-engagement cadence.
    expect(stages.filter((s) => s.closed).map((s) => s.label)).toEqual(['Not Qualified', 'Unreachable']);
    // "Fix: keep one canonical pipeline with 8-10 stages max" counts operating stages; the two closed ones are outcomes.
    expect(open.length).toBeLessThanOrEqual(10);
  });

  it('has stable ids other tests and the demo rely on', () => {
    expect(stages.map((s) => [s.id, s.label])).toEqual([
      ['1180512201', 'New Lead'],
      ['1180512202', 'Contact Attempted'],
      ['1180512203', 'Intake Started'],
      ['1180512204', 'Intake Remediation'],
      ['1180512205', 'Intake Completed'],
      ['1180512206', 'Clinical Review Queue'],
      ['1180512207', 'Qualified'],
      ['1180512208', 'Started Care'],
      ['1180512209', 'Active / Retention'],
      ['1180512210', 'Not Qualified'],
      ['1180512211', 'Unreachable'],
    ]);
  });

  it('000 "Owner model: one stage, one accountable role" (lines 68-72)', () => {
    const owners = Object.fromEntries(stages.map((s) => [s.label, s.ownerRole]));
    // "Growth/Ops owns New Lead and Contact Attempted"
    expect([owners['New Lead'], owners['Contact Attempted']]).toEqual(['growth_ops', 'growth_ops']);
    // "Intake Ops owns Intake Started and Intake Completed"
    expect([owners['Intake Started'], owners['Intake Completed']]).toEqual(['intake_ops', 'intake_ops']);
    // "Clinical Ops owns Clinical Review Queue"
    expect(owners['Clinical Review Queue']).toBe('clinical_ops');
    // "Provider Team owns Qualified / Not Qualified"
    expect([owners['Qualified'], owners['Not Qualified']]).toEqual(['provider_team', 'provider_team']);
    // "Patient Success owns Started Care and Active / Retention"
    expect([owners['Started Care'], owners['Active / Retention']]).toEqual([
      'patient_success',
      'patient_success',
    ]);
    // The remediation detour is Intake Ops' rework; Unreachable closes Growth/Ops' cadence.
    expect([owners['Intake Remediation'], owners['Unreachable']]).toEqual(['intake_ops', 'growth_ops']);
  });

  it('has the five roles, each with a lead', () => {
    expect(p.roles.map((r) => [r.id, r.lead])).toEqual([
      ['growth_ops', '52841901'],
      ['intake_ops', '61230440'],
      ['clinical_ops', '70315510'],
      ['provider_team', '80112001'],
      ['patient_success', '90440300'],
    ]);
  });

  it('000 "New Lead -> Contact Attempted: <= 15 minutes during staffed hours" (urgent leads: 5)', () => {
    const sla = byLabel('New Lead').sla!;
    expect(sla).toMatchObject({ target: '15m', basis: 'business', calendar: 'intake' });
    // The SLA counts on the staffed calendar of the role that owns the stage.
    expect(role('growth_ops').calendar).toBe('intake');
    expect(sla.overrides).toEqual([
      { when: [{ op: 'equals', property: 'urgency', value: 'urgent' }], target: '5m' },
    ]);
  });

  it('000 "No-response re-engagement: day 1, day 3, day 7 cadence" in calendar days from Contact Attempted', () => {
    const actions = byLabel('Contact Attempted').requiredActions;
    expect(actions.map((a) => [a.dueAfter, a.basis])).toEqual([
      ['1d', 'calendar'],
      ['3d', 'calendar'],
      ['7d', 'calendar'],
    ]);
  });

  it('000 "Intake Completed -> Clinical Review Queue: <= 4 business hours", "auto-page team lead at 3 hours" (Intake Ops lead)', () => {
    const stage = byLabel('Intake Completed');
    expect(stage.sla).toMatchObject({ target: '4h', basis: 'business', calendar: 'clinical' });
    // 3 of 4 hours is 75 %: a task for the lead of the stage's role, which is Intake Ops.
    expect(stage.sla!.escalations[0]).toMatchObject({ at: 75, actions: [{ type: 'taskForLead' }] });
    expect(role(stage.ownerRole).lead).toBe('61230440');
    expect(stage.sla!.escalations.at(-1)).toEqual({ at: 150, actions: [{ type: 'reassignToLead' }] });
  });

  it('000 "Required actions: quality check + route to clinical queue", "Exit condition: chart packet ready and assigned"', () => {
    const stage = byLabel('Intake Completed');
    expect(stage.requiredActions.map((a) => a.id)).toEqual(['quality_check', 'route_to_clinical_queue']);
    expect(stage.exitCriteria.map((c) => c.label)).toEqual(['Chart packet ready', 'Chart packet assigned']);
  });

  it('000 "Qualified -> Started Care next-step outreach: <= 2 business hours"', () => {
    const stage = byLabel('Qualified');
    expect(stage.sla).toMatchObject({ target: '2h', basis: 'business', calendar: 'clinical' });
    expect(stage.requiredActions.map((a) => [a.id, a.type])).toEqual([['welcome_call', 'CALL']]);
  });

  it('000 "send warning at 70-80% of SLA window" on every SLA stage', () => {
    const withSla = stages.filter((s) => s.sla);
    expect(withSla.length).toBeGreaterThan(0);
    for (const s of withSla) {
      expect(s.sla!.warningAt, s.label).toBeGreaterThanOrEqual(70);
      expect(s.sla!.warningAt, s.label).toBeLessThanOrEqual(80);
    }
  });

  it('000 "escalate to lead on breach": every SLA stage has a lead task or hand-over at 100 % or earlier', () => {
    for (const s of stages.filter((x) => x.sla)) {
      const byBreach = s
        .sla!.escalations.filter((l) => l.at <= 100)
        .flatMap((l) => l.actions.map((a) => a.type));
      expect(
        byBreach.some((t) => t === 'taskForLead' || t === 'reassignToLead'),
        s.label,
      ).toBe(true);
    }
  });

  it('003 closure reasons "no response, not a fit, duplicate, or service out of coverage area" close the cadence', () => {
    expect(byLabel('Unreachable')).toMatchObject({
      closed: true,
      closureReasons: ['no_response', 'not_a_fit', 'duplicate', 'out_of_coverage'],
    });
  });

  it('gates clinical review on a complete chart and routes gaps to remediation (000 handoff rules)', () => {
    const review = byLabel('Clinical Review Queue');
    expect(review.gate).toEqual({ onBlocked: 'remediate', stage: byLabel('Intake Remediation').id });
    expect(review.entryCriteria.map((c) => c.op)).toEqual(['present', 'equals', 'oneOf']);
    expect(byLabel('Qualified').exitCriteria.map((c) => c.op)).toEqual(['taskDone', 'inFuture']);
    // No shortcut: a skip must meet every skipped stage's exit criteria.
    expect(pipeline.shortcuts).toEqual([]);
  });

  it("pauses clocks while waiting on the patient where that is someone else's delay", () => {
    const pausing = stages.filter((s) =>
      s.sla?.pauseWhen.some((c) => c.op === 'equals' && c.property === 'waiting_on'),
    );
    expect(pausing.map((s) => s.label)).toEqual([
      'Intake Started',
      'Intake Remediation',
      'Clinical Review Queue',
      'Started Care',
    ]);
  });

  it('has a split-day intake calendar with an overnight shift, a US-holiday business-hours calendar and a 24/7 calendar', () => {
    const [intake, clinical, onCall] = p.calendars;
    expect(intake?.hours !== '24/7' && intake?.hours.mon).toEqual([
      { start: '08:00', end: '15:30' },
      { start: '16:00', end: '24:00' },
    ]);
    // Overnight: the end is earlier than the start.
    expect(intake?.hours !== '24/7' && intake?.hours.fri[1]).toEqual({ start: '16:00', end: '02:00' });
    expect(clinical).toMatchObject({
      id: 'clinical',
      timeZone: 'America/New_York',
      holidaySet: { country: 'US' },
    });
    expect(clinical?.hours !== '24/7' && clinical?.hours.mon).toEqual([{ start: '08:00', end: '18:00' }]);
    expect(onCall?.hours).toBe('24/7');
  });
});
