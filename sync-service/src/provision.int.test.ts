import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROPERTY_GROUP, WRITTEN_BACK_PROPERTIES } from '@stagekeeper/shared';
import type { SandboxPortal, SandboxServer } from '../../test/sandbox';
import { testPlaybook } from './hubspot/test-playbook';
import { formatProvisionReport, provision } from './provision';
import { deletePrefix } from './testing/fakes';
import { sandboxCaller, startSandboxPortal } from './testing/sandbox-portal';

const prefix = `sktest-prov-${process.pid}-${Date.now()}`;
let portal: SandboxPortal;
let server: SandboxServer;
let redis: Redis;

function portalCaller() {
  return sandboxCaller({ portal, server }, { redis, prefix }).forPortal(String(portal.portalId));
}

beforeAll(async () => {
  ({ portal, server } = await startSandboxPortal());
  redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 3 });
});

afterAll(async () => {
  await deletePrefix(redis, prefix);
  redis.disconnect();
  await server.close();
});

describe('provision against the sandbox portal', () => {
  it('creates the group and every written-back property once; the second run creates nothing', async () => {
    const first = await provision({ client: portalCaller(), playbook: testPlaybook() });
    expect(first.group).toBe('created');
    expect(first.created.sort()).toEqual(WRITTEN_BACK_PROPERTIES.map((p) => p.name).sort());
    expect(first.updated).toEqual([]);
    const created = portal.catalogs.deals.get('stagekeeper_sla_status')!;
    expect(created.groupName).toBe(PROPERTY_GROUP.name);
    expect(created.options.map((o) => o.value)).toContain('breached');

    const mark = portal.requests.length;
    const second = await provision({ client: portalCaller(), playbook: testPlaybook() });
    expect(second.group).toBe('exists');
    expect(second.created).toEqual([]);
    expect(second.updated).toEqual([]);
    expect(second.existing.sort()).toEqual(WRITTEN_BACK_PROPERTIES.map((p) => p.name).sort());
    // Reads only: groups, properties, pipelines, owners; then, because the playbook reads properties the ordinary
    // list lacks, the Sensitive Data lists (they might be held there).
    expect(portal.requests.slice(mark).map((r) => `${r.method} ${r.url}`)).toEqual([
      'GET /crm/v3/properties/deals/groups',
      'GET /crm/v3/properties/deals',
      'GET /crm/v3/pipelines/deals',
      expect.stringMatching(/^GET \/crm\/v3\/owners\//),
      'GET /crm/v3/properties/deals?dataSensitivity=sensitive',
      'GET /crm/v3/properties/deals?dataSensitivity=highly_sensitive',
    ]);
    expect(portal.requests.slice(mark).every((r) => r.method === 'GET')).toBe(true);
  });

  it('warns about role owners the portal does not have', async () => {
    const playbook = testPlaybook();
    const known = playbook.roles[0]!.owners[0]!;
    portal.seedOwner({ id: known, email: `o${known}@sandbox.test`, firstName: 'O', lastName: known });
    const report = await provision({ client: portalCaller(), playbook });
    const role = playbook.roles[0]!;
    const missing = [...new Set([...role.owners, role.lead])].filter((id) => id !== known);
    expect(report.warnings).toContain(
      `role "${role.id}" (roles[0]) names owner id(s) the portal does not have: ${missing.join(', ')}; their tasks would be created unassigned`,
    );
    expect(report.warnings.join('\n')).not.toContain(`have: ${known}`);
  });

  it('lists properties the playbook criteria read that deals lack', async () => {
    const report = await provision({ client: portalCaller(), playbook: testPlaybook() });
    expect(report.missingProperties).toEqual([
      { property: 'intake_form_received', usedAt: ['pipelines[0].stages[0].exitCriteria[0]'] },
      { property: 'waiting_on', usedAt: ['pipelines[0].stages[1].sla.pauseWhen[0]'] },
    ]);
    expect(report.ok).toBe(false);
  });

  it('reports a wrong stage id and a wrong pipeline id clearly', async () => {
    const wrongStage = await provision({
      client: portalCaller(),
      playbook: testPlaybook({ stageIds: ['sk_referral', 'sk_intake', '123', 'sk_done'] }),
    });
    expect(wrongStage.mismatches).toEqual([
      'stage "123" (pipelines[0].stages[2], label "Scheduled") not in pipeline "sk_care"; a stage labelled "Scheduled" has id "sk_scheduled": use that id; the portal has: "sk_referral" (Referral), "sk_intake" (Intake Completed), "sk_scheduled" (Scheduled), "sk_done" (Done)',
    ]);
    const text = formatProvisionReport(wrongStage);
    expect(text).toContain('✗ stage "123"');
    expect(text).toContain('NOT READY');

    const wrongPipeline = await provision({
      client: portalCaller(),
      playbook: testPlaybook({ pipelineId: 'X' }),
    });
    expect(wrongPipeline.mismatches).toHaveLength(1);
    expect(wrongPipeline.mismatches[0]).toMatch(
      /^pipeline "X" \(playbook pipelines\[0\], label "Care journey"\) not found in the portal; a pipeline labelled "Care journey" has id "sk_care": use that id; the portal has: "default" \(Sales Pipeline\), "sk_care" \(Care journey\)$/,
    );
  });

  it('a property of the wrong type is a mismatch, not silently rewritten', async () => {
    const { portal: p, server: s } = await startSandboxPortal({ carePipeline: false });
    try {
      p.catalogs.deals.createGroup({ name: 'stagekeeper', label: 'Stagekeeper' });
      p.catalogs.deals.create({
        name: 'stagekeeper_breach_count',
        label: 'Breach count',
        type: 'string',
        fieldType: 'text',
        groupName: 'stagekeeper',
      });
      const caller = sandboxCaller({ portal: p, server: s }, { redis, prefix });
      const report = await provision({
        client: caller.forPortal(String(p.portalId)),
        playbook: testPlaybook(),
      });
      expect(report.mismatches).toContain(
        'property "stagekeeper_breach_count" exists with type "string", Stagekeeper writes "number": change or delete it in HubSpot',
      );
      expect(report.created).toHaveLength(WRITTEN_BACK_PROPERTIES.length - 1);
    } finally {
      await s.close();
    }
  });
});
