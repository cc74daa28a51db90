import { describe, expect, it } from 'vitest';
import type { Criterion } from '../playbook/schema';
import { evaluateCriteria } from './criteria';
import { fixturePlaybook, MON_10, snap } from './fixtures';
import { requiredProperties } from './required-properties';

const NOW = MON_10;
const check = (c: Criterion, properties: Record<string, string | null>, tasks = {}) =>
  evaluateCriteria(
    [c],
    snap({ properties, tasks }),
    [{ key: 'k1', kind: 'action', templateId: 'consent' }],
    NOW,
  );

describe('evaluateCriteria', () => {
  it.each<[Criterion, Record<string, string | null>, boolean]>([
    [{ op: 'present', property: 'a' }, { a: 'x' }, true],
    [{ op: 'present', property: 'a' }, { a: '  ' }, false],
    [{ op: 'present', property: 'a' }, { a: null }, false],
    [{ op: 'equals', property: 'a', value: 'true' }, { a: 'true' }, true],
    [{ op: 'equals', property: 'a', value: 'true' }, { a: 'false' }, false],
    [{ op: 'notEquals', property: 'a', value: 'patient' }, {}, true],
    [{ op: 'notEquals', property: 'a', value: 'patient' }, { a: 'patient' }, false],
    [{ op: 'oneOf', property: 'a', values: ['low', 'high'] }, { a: 'high' }, true],
    [{ op: 'oneOf', property: 'a', values: ['low', 'high'] }, { a: 'medium' }, false],
    [{ op: 'gte', property: 'n', value: 2 }, { n: '2' }, true],
    [{ op: 'gt', property: 'n', value: 2 }, { n: '2' }, false],
    [{ op: 'lt', property: 'n', value: 2 }, { n: 'abc' }, false],
    [{ op: 'lte', property: 'n', value: 2 }, { n: '1.5' }, true],
    [{ op: 'dateBefore', property: 'd', value: '2026-03-01' }, { d: '2026-02-28' }, true],
    [
      { op: 'dateAfter', property: 'd', value: '2026-03-01T00:00:00Z' },
      { d: String(Date.UTC(2026, 2, 2)) },
      true,
    ],
    [{ op: 'inFuture', property: 'd' }, { d: String(NOW + 1) }, true],
    [{ op: 'inFuture', property: 'd' }, { d: String(NOW) }, false],
  ])('%j with %j -> %s', (c, properties, met) => {
    expect(check(c, properties).met).toBe(met);
  });

  it('reads taskDone from the status of the entry task created from that template', () => {
    const c: Criterion = { op: 'taskDone', task: 'consent' };
    expect(check(c, {}, { k1: 'COMPLETED' }).met).toBe(true);
    expect(check(c, {}, { k1: 'IN_PROGRESS' }).met).toBe(false);
    expect(check({ op: 'taskDone', task: 'other' }, {}, { k1: 'COMPLETED' }).met).toBe(false);
  });

  it('reports labels, or generated ones, never the deal values', () => {
    const r = evaluateCriteria(
      [
        { op: 'present', property: 'dealname' },
        { op: 'equals', property: 'insurance', value: 'verified', label: 'Insurance verified' },
        { op: 'gte', property: 'age', value: 18 },
        { op: 'taskDone', task: 'consent' },
      ],
      snap({ properties: { insurance: 'SECRET-PLAN', age: '12' } }),
      [],
      NOW,
    );
    expect(r).toEqual({
      met: false,
      missing: ['dealname present', 'Insurance verified', 'age >= 18', 'task "consent" done'],
    });
    expect(JSON.stringify(r)).not.toContain('SECRET');
    expect(JSON.stringify(r)).not.toContain('12');
  });
});

describe('requiredProperties', () => {
  it('lists HubSpot fields, every stage entry date, every criterion property and the signals', () => {
    const names = requiredProperties(fixturePlaybook());
    for (const n of [
      'dealstage',
      'pipeline',
      'hubspot_owner_id',
      'num_contacted_notes',
      'last_reply_at',
      'urgency', // override
      'waiting_on', // pause
      'insurance_id', // entry
      'intake_form_at', // exit
      'docs_ok',
    ])
      expect(names).toContain(n);
    for (const stage of ['lead', 'intake', 'fix', 'review', 'won', 'lost'])
      expect(names).toContain(`hs_v2_date_entered_${stage}`);
    expect(new Set(names).size).toBe(names.length);
  });

  it("lists each playbook's own properties once per object, and hands each caller a copy of its own", () => {
    const pb = fixturePlaybook();
    const first = requiredProperties(pb);
    first.push('scribbled');
    expect(requiredProperties(pb)).not.toContain('scribbled');
    expect(requiredProperties(pb)).toEqual(first.slice(0, -1));
    // Another object (a new version) gets its own list, even from an equal-looking playbook.
    const other = fixturePlaybook();
    other.scorecard = { dimensions: [{ property: 'referral_source', label: 'Referral source' }] } as never;
    expect(requiredProperties(other)).toContain('referral_source');
    expect(requiredProperties(pb)).not.toContain('referral_source');
  });
});
