import type { Client } from '@hubspot/api-client';
import { describe, expect, it } from 'vitest';
import { P, PROPERTY_GROUP, WRITTEN_BACK_PROPERTIES } from '@stagekeeper/shared';
import { testPlaybook } from './hubspot/test-playbook';
import { criteriaProperties, formatProvisionReport, provision, type ProvisionReport } from './provision';

// The sandbox portal has no property-update endpoint yet, so the drift-repair path is checked against a stub
// that records what provisioning asks HubSpot to change.
function stubPortal(existing: Array<Record<string, unknown>>) {
  const updates: Array<{ name: string; body: Record<string, unknown> }> = [];
  const client = {
    // The Sensitive Data lists (`?dataSensitivity=`): none here.
    apiRequest: async () => new Response(JSON.stringify({ results: [] }), { status: 200 }),
    crm: {
      properties: {
        groupsApi: {
          getAll: async () => ({ results: [{ name: PROPERTY_GROUP.name, label: PROPERTY_GROUP.label }] }),
        },
        coreApi: {
          getAll: async () => ({ results: existing }),
          update: async (_t: string, name: string, body: Record<string, unknown>) =>
            void updates.push({ name, body }),
        },
        batchApi: { create: async () => ({ results: [] }) },
      },
      // No owners: these tests do not read warnings (the owner check is tested against the sandbox).
      owners: { ownersApi: { getPage: async () => ({ results: [] }) } },
      pipelines: {
        pipelinesApi: {
          getAll: async () => ({
            results: [
              {
                id: 'sk_care',
                label: 'Care journey',
                stages: ['sk_referral', 'sk_intake', 'sk_scheduled', 'sk_done'].map((id, i) => ({
                  id,
                  label: ['Referral', 'Intake Completed', 'Scheduled', 'Done'][i],
                  metadata: { isClosed: id === 'sk_done' ? 'true' : 'false' },
                })),
              },
            ],
          }),
        },
      },
    },
  };
  return { client: client as unknown as Client, updates };
}

const asPortalHas = () =>
  WRITTEN_BACK_PROPERTIES.map((d) => ({ ...d, options: d.options ? [...d.options] : [] }));

describe('provision: definition drift', () => {
  it('adds missing enum options and keeps options deals may already hold', async () => {
    const props = asPortalHas();
    const status = props.find((p) => p.name === P.slaStatus)!;
    status.options = [
      ...status.options.filter((o) => o.value !== 'breached_closed'),
      { label: 'Legacy', value: 'legacy', displayOrder: 99, hidden: false },
    ];
    const { client, updates } = stubPortal([
      ...props,
      { name: 'intake_form_received', type: 'bool' },
      { name: 'waiting_on', type: 'string' },
      { name: 'dealname', type: 'string' },
      { name: 'num_contacted_notes', type: 'number' },
    ]);
    const report = await provision({ client, playbook: testPlaybook() });
    expect(report.updated).toEqual([{ name: P.slaStatus, changes: ['options'] }]);
    expect(updates).toHaveLength(1);
    const values = (updates[0]!.body.options as Array<{ value: string }>).map((o) => o.value);
    expect(values).toContain('breached_closed');
    expect(values.at(-1)).toBe('legacy');
    expect(report.existing).toHaveLength(WRITTEN_BACK_PROPERTIES.length - 1);
    expect(report.ok).toBe(true);
  });

  it('fixes a moved group or changed label without touching the type', async () => {
    const props = asPortalHas();
    Object.assign(
      props.find((p) => p.name === P.breachCount)!,
      { groupName: 'dealinformation', label: 'Breaches' },
    );
    const { client, updates } = stubPortal(props);
    const report = await provision({ client, playbook: testPlaybook() });
    expect(report.updated).toEqual([{ name: P.breachCount, changes: ['label', 'group'] }]);
    expect(updates[0]!.body).toEqual({ label: 'Breach count', groupName: 'stagekeeper' });
  });
});

describe('criteriaProperties', () => {
  it('finds every property criteria and actions read, with playbook paths', () => {
    const m = criteriaProperties(testPlaybook());
    expect(Object.fromEntries(m)).toEqual({
      intake_form_received: ['pipelines[0].stages[0].exitCriteria[0]'],
      waiting_on: ['pipelines[0].stages[1].sla.pauseWhen[0]'],
      dealname: ['pipelines[0].stages[2].entryCriteria[0]'],
      num_contacted_notes: ['signals.contactAttempts'],
    });
  });
});

describe('criteriaProperties: event clocks', () => {
  it('lists the properties a clock watches (start, stop, conditions) so provisioning checks the portal has them', () => {
    const pb = testPlaybook();
    pb.clocks = [
      {
        id: 'support_inquiry',
        label: 'Support inquiry response',
        start: { property: 'support_inquiry_at', on: 'change' },
        startAt: 'value',
        stopOn: [{ property: 'support_inquiry_responded_at', on: 'change' }],
        stopWhen: [{ op: 'equals', property: 'support_status', value: 'closed' }],
        sla: { ...pb.pipelines[0]!.stages[1]!.sla!, target: '1h' },
      },
    ];
    const m = Object.fromEntries(criteriaProperties(pb));
    expect(m).toMatchObject({
      support_inquiry_at: ['clocks[0].start'],
      support_inquiry_responded_at: ['clocks[0].stopOn[0]'],
      support_status: ['clocks[0].stopWhen[0]'],
      waiting_on: ['pipelines[0].stages[1].sla.pauseWhen[0]', 'clocks[0].sla.pauseWhen[0]'],
    });
  });
});

describe('formatProvisionReport', () => {
  it('renders every section and the verdict', () => {
    const r: ProvisionReport = {
      group: 'created',
      created: ['a', 'b'],
      existing: [],
      updated: [{ name: 'c', changes: ['options'] }],
      mismatches: [
        'stage "123" (pipelines[0].stages[2], label "Intake Completed") not in pipeline "X"; the portal has: "1" (One)',
      ],
      missingProperties: [{ property: 'waiting_on', usedAt: ['pipelines[0].stages[1].sla.pauseWhen[0]'] }],
      unreadableProperties: [],
      warnings: ['w'],
      ok: false,
    };
    expect(formatProvisionReport(r)).toBe(
      [
        'Property group "stagekeeper": created',
        'Created (2): a, b',
        'Updated (1):',
        '  - c: options',
        'Mismatches (1):',
        '  ✗ stage "123" (pipelines[0].stages[2], label "Intake Completed") not in pipeline "X"; the portal has: "1" (One)',
        'Deal properties the playbook reads but the portal lacks (1):',
        '  ✗ "waiting_on" used at pipelines[0].stages[1].sla.pauseWhen[0]',
        'Warnings (1):',
        '  ! w',
        'NOT READY: fix the items marked ✗ and run again.',
      ].join('\n'),
    );
    expect(
      formatProvisionReport({
        ...r,
        mismatches: [],
        missingProperties: [],
        warnings: [],
        updated: [],
        ok: true,
      }),
    ).toMatch(/OK: the portal matches the playbook\.$/);
  });
});
