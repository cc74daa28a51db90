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

  it.each(names)('%s uses HubSpot-shaped ids: digit owner and team ids, stage ids unique across pipelines', (name) => {
    const p = loadExamplePlaybook(name);
    for (const r of p.roles) for (const id of [r.lead, ...r.owners, ...r.teams]) expect(id).toMatch(/^\d+$/);
    const stageIds = p.pipelines.flatMap((pl) => pl.stages.map((s) => s.id));
    expect(new Set(stageIds).size).toBe(stageIds.length);
  });
});

describe('canonical telehealth playbook', () => {
  const p = loadExamplePlaybook('telehealth');
  const stages = p.pipelines[0]!.stages;
  const byLabel = (label: string): Stage => {
    const s = stages.find((x) => x.label === label);
    if (!s) throw new Error(`no stage "${label}"`);
    return s;
  };

  it('has the journey stages in order, with stable ids other tests rely on', () => {
    expect(p.pipelines[0]!.id).toBe('812404417');
    expect(stages.map((s) => [s.id, s.label, s.ownerRole, s.closed])).toEqual([
      ['1180512201', 'New Lead', 'growth_ops', false],
      ['1180512202', 'Contact Attempted', 'growth_ops', false],
      ['1180512203', 'Intake Started', 'intake_ops', false],
      ['1180512204', 'Intake Remediation', 'intake_ops', false],
      ['1180512205', 'Intake Completed', 'clinical_ops', false],
      ['1180512206', 'Clinical Review Queue', 'provider_team', false],
      ['1180512207', 'Qualified', 'patient_success', false],
      ['1180512208', 'Started Care', 'provider_team', false],
      ['1180512209', 'Active / Retention', 'patient_success', false],
      ['1180512210', 'Not Qualified', 'clinical_ops', true],
    ]);
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

  it('answers new leads in 15 staffed minutes, urgent ones in 5', () => {
    const sla = byLabel('New Lead').sla!;
    expect(sla).toMatchObject({ target: '15m', basis: 'business', calendar: 'intake' });
    expect(sla.overrides).toEqual([{ when: [{ op: 'equals', property: 'urgency', value: 'urgent' }], target: '5m' }]);
  });

  it('re-engages on calendar days 1, 3 and 7 from Contact Attempted', () => {
    const actions = byLabel('Contact Attempted').requiredActions;
    expect(actions.map((a) => [a.dueAfter, a.basis])).toEqual([
      ['1d', 'calendar'],
      ['3d', 'calendar'],
      ['7d', 'calendar'],
    ]);
  });

  it('pages the lead at 3 of 4 clinical hours and reassigns at 150 %', () => {
    const sla = byLabel('Intake Completed').sla!;
    expect(sla).toMatchObject({ target: '4h', basis: 'business', calendar: 'clinical' });
    expect(sla.escalations[0]).toMatchObject({ at: 75, actions: [{ type: 'taskForLead' }] });
    expect(sla.escalations.at(-1)).toEqual({ at: 150, actions: [{ type: 'reassignToLead' }] });
  });

  it('gives qualified patients outreach within 2 staffed hours', () => {
    expect(byLabel('Qualified').sla).toMatchObject({ target: '2h', basis: 'business' });
  });

  it('gates clinical review on a complete chart and routes gaps to remediation', () => {
    const review = byLabel('Clinical Review Queue');
    expect(review.gate).toEqual({ onBlocked: 'remediate', stage: byLabel('Intake Remediation').id });
    expect(review.entryCriteria.map((c) => c.op)).toEqual(['present', 'equals', 'oneOf']);
    expect(byLabel('Qualified').exitCriteria.map((c) => c.op)).toEqual(['taskDone', 'inFuture']);
  });

  it('pauses clocks while waiting on the patient where that is someone else\'s delay', () => {
    const pausing = stages.filter((s) => s.sla?.pauseWhen.some((c) => c.op === 'equals' && c.property === 'waiting_on'));
    expect(pausing.map((s) => s.label)).toEqual(['Intake Started', 'Intake Remediation', 'Clinical Review Queue', 'Started Care']);
  });

  it('has a split-day intake calendar with an overnight shift, a US-holiday clinical calendar and a 24/7 calendar', () => {
    const [intake, clinical, onCall] = p.calendars;
    expect(intake?.hours !== '24/7' && intake?.hours.mon).toEqual([
      { start: '08:00', end: '15:30' },
      { start: '16:00', end: '24:00' },
    ]);
    // Overnight: the end is earlier than the start.
    expect(intake?.hours !== '24/7' && intake?.hours.fri[1]).toEqual({ start: '16:00', end: '02:00' });
    expect(clinical).toMatchObject({ timeZone: 'America/New_York', holidaySet: { country: 'US' } });
    expect(onCall?.hours).toBe('24/7');
  });
});
