import { describe, expect, it } from 'vitest';
import { loadExamplePlaybook } from './load-file';
import { propertyUses } from './property-uses';

describe('propertyUses', () => {
  const uses = propertyUses(loadExamplePlaybook('telehealth'));
  const find = (property: string) => uses.filter((u) => u.property === property);

  it('types each use by how it is read and keeps the playbook path', () => {
    expect(find('num_contacted_notes')[0]).toEqual({
      property: 'num_contacted_notes',
      at: 'pipelines[0].stages[0].exitCriteria[0]',
      kind: 'number',
      source: 'criterion',
    });
    expect(find('first_visit_at').map((u) => u.kind)).toEqual(['datetime']);
    expect(find('waiting_on').every((u) => u.kind === 'string' && u.at.includes('.sla.pauseWhen['))).toBe(
      true,
    );
  });

  it('includes escalation writes and the signals, and never a taskDone criterion', () => {
    expect(find('clinical_review_priority')).toEqual([
      {
        property: 'clinical_review_priority',
        at: 'pipelines[0].stages[4].sla.escalations[1].actions[1]',
        kind: 'string',
        source: 'action',
      },
    ]);
    expect(uses.filter((u) => u.source === 'signal').map((u) => [u.property, u.kind])).toEqual([
      ['num_contacted_notes', 'number'],
      ['last_patient_reply_at', 'datetime'],
    ]);
    expect(uses.some((u) => u.property === undefined)).toBe(false);
  });
});
