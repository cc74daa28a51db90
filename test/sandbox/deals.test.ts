import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from './clock';
import { refusal, startSandbox } from './harness';

const clock = manualClock(Date.parse('2026-03-02T14:00:00Z'));
let sb: Awaited<ReturnType<typeof startSandbox>>;

beforeAll(async () => {
  sb = await startSandbox({ now: clock.now });
  sb.portal.seedPipeline({
    id: 'intake',
    label: 'Telehealth intake',
    stages: [
      { id: '1001', label: 'Referral received' },
      { id: '1002', label: 'Eligibility check' },
      { id: '1003', label: 'Scheduled', isClosed: true, probability: 1 },
    ],
  });
  sb.portal.seedOwner({ id: '501', email: 'ana@clinic.test', firstName: 'Ana', lastName: 'Diaz' });
});
afterAll(() => sb.close());

describe('deals through the real client', () => {
  it('creates, reads and updates a deal with string values and ISO dates', async () => {
    const hs = sb.client();
    const created = await hs.crm.deals.basicApi.create({
      properties: {
        dealname: 'Pat A',
        pipeline: 'intake',
        dealstage: '1001',
        amount: '120.50',
        closedate: '1775000000000',
        hubspot_owner_id: '501',
      },
      associations: [],
    });
    expect(created.id).toMatch(/^\d+$/);
    expect(created.createdAt).toBeInstanceOf(Date);
    expect(created.properties.closedate).toBe(new Date(1775000000000).toISOString());

    // Repeated keys (the client's form) and unknown names (ignored on read, as HubSpot does).
    const read = await hs.crm.deals.basicApi.getById(created.id, [
      'amount',
      'hubspot_owner_id',
      'description',
      'no_such_prop',
    ]);
    expect(read.properties).toMatchObject({
      amount: '120.50',
      hubspot_owner_id: '501',
      description: null,
      hs_object_id: created.id,
    });
    expect(read.properties).not.toHaveProperty('no_such_prop');

    clock.advance(60_000);
    const updated = await hs.crm.deals.basicApi.update(created.id, { properties: { amount: '200' } });
    expect(updated.properties.amount).toBe('200');
    expect(updated.properties.hs_lastmodifieddate).toBe(new Date(clock.now()).toISOString());
    expect(updated.updatedAt.getTime()).toBe(clock.now());
  });

  it('accepts a comma list for properties, as curl users send it', async () => {
    const deal = sb.portal.ui.createDeal({
      dealname: 'Comma',
      pipeline: 'intake',
      dealstage: '1001',
      amount: '7',
    });
    const res = await fetch(`${sb.server.url}/crm/v3/objects/deals/${deal.id}?properties=dealname,amount`, {
      headers: { authorization: `Bearer ${sb.portal.privateAppToken}` },
    });
    const body = (await res.json()) as { properties: Record<string, string> };
    expect(body.properties).toMatchObject({ dealname: 'Comma', amount: '7' });
    expect(res.headers.get('x-hubspot-ratelimit-max')).toBe('190');
  });

  it('batch creates, reads (207 for missing ids) and updates (207 for missing ids), then archives with 204', async () => {
    const hs = sb.client();
    const created = await hs.crm.deals.batchApi.create({
      inputs: [1, 2, 3].map((n) => ({
        properties: { dealname: `Batch ${n}`, pipeline: 'intake', dealstage: '1001' },
        associations: [],
      })),
    });
    expect(created.results).toHaveLength(3);
    const ids = created.results.map((d) => d.id);

    const read = await hs.crm.deals.batchApi.read({
      inputs: [...ids, '999'].map((id) => ({ id })),
      properties: ['dealname'],
      propertiesWithHistory: [],
    });
    expect(read.results.map((r) => r.properties.dealname).sort()).toEqual(['Batch 1', 'Batch 2', 'Batch 3']);
    expect('errors' in read && read.errors?.[0]).toMatchObject({
      category: 'OBJECT_NOT_FOUND',
      context: { ids: ['999'] },
    });

    const upd = await hs.crm.deals.batchApi.update({
      inputs: [
        { id: ids[0]!, properties: { dealstage: '1002' } },
        { id: '998', properties: { dealname: 'ghost' } },
      ],
    });
    expect(upd.results[0]!.properties.dealstage).toBe('1002');
    expect('numErrors' in upd && upd.numErrors).toBe(1);

    await hs.crm.deals.batchApi.archive({ inputs: ids.map((id) => ({ id })) });
    const gone = await refusal(hs.crm.deals.basicApi.getById(ids[0]!));
    expect(gone.code).toBe(404);
    expect(gone.body.category).toBe('OBJECT_NOT_FOUND');
    const archived = await hs.crm.deals.basicApi.getById(ids[0]!, undefined, undefined, undefined, true);
    expect(archived.archived).toBe(true);
  });

  it('refuses what HubSpot refuses, with its error body shape', async () => {
    const hs = sb.client();
    const deal = sb.portal.ui.createDeal({ dealname: 'Refusals', pipeline: 'intake', dealstage: '1001' });

    const unknown = await refusal(
      hs.crm.deals.basicApi.update(deal.id, { properties: { dealnmae: 'typo' } }),
    );
    expect(unknown.code).toBe(400);
    expect(unknown.body).toMatchObject({ status: 'error', category: 'VALIDATION_ERROR' });
    expect(unknown.body.correlationId).toMatch(/^[0-9a-f-]{36}$/);
    expect(String(unknown.body.message)).toMatch(/^Property values were not valid: .*PROPERTY_DOESNT_EXIST/);
    expect(unknown.body.errors).toEqual([
      expect.objectContaining({ code: 'PROPERTY_DOESNT_EXIST', context: { propertyName: ['dealnmae'] } }),
    ]);

    const enumBad = await refusal(
      hs.crm.deals.basicApi.update(deal.id, { properties: { dealtype: 'bogus' } }),
    );
    expect(enumBad.code).toBe(400);
    expect(String(enumBad.body.message)).toContain('INVALID_OPTION');

    const notNumber = await refusal(
      hs.crm.deals.basicApi.update(deal.id, { properties: { amount: 'twelve' } }),
    );
    expect(String(notNumber.body.message)).toContain('twelve was not a valid number.');

    const foreignStage = await refusal(
      hs.crm.deals.basicApi.update(deal.id, { properties: { dealstage: 'closedwon' } }),
    );
    expect(foreignStage.code).toBe(400);
    expect(String(foreignStage.body.message)).toContain('dealstage');

    const noSuchOwner = await refusal(
      hs.crm.deals.basicApi.update(deal.id, { properties: { hubspot_owner_id: '999999' } }),
    );
    expect(noSuchOwner.code).toBe(400);

    const readOnly = await refusal(
      hs.crm.deals.basicApi.update(deal.id, { properties: { hs_v2_date_entered_1001: '1' } }),
    );
    expect(String(readOnly.body.message)).toContain('READ_ONLY_VALUE');

    const missing = await refusal(hs.crm.deals.basicApi.update('123', { properties: { dealname: 'x' } }));
    expect(missing.code).toBe(404);

    const tooMany = await refusal(
      hs.crm.deals.batchApi.read({
        inputs: Array.from({ length: 101 }, (_, i) => ({ id: String(i) })),
        properties: [],
        propertiesWithHistory: [],
      }),
    );
    expect(tooMany).toMatchObject({ code: 400, body: { category: 'VALIDATION_ERROR' } });

    // One bad input refuses the whole batch: nothing is half-written.
    const before = sb.portal.objects.all('deals').length;
    const badBatch = await refusal(
      hs.crm.deals.batchApi.create({
        inputs: [
          { properties: { dealname: 'ok' }, associations: [] },
          { properties: { nope: 'x' }, associations: [] },
        ],
      }),
    );
    expect(badBatch.code).toBe(400);
    expect(sb.portal.objects.all('deals')).toHaveLength(before);

    const dupes = await refusal(
      hs.crm.deals.batchApi.update({
        inputs: [
          { id: deal.id, properties: {} },
          { id: deal.id, properties: {} },
        ],
      }),
    );
    expect(String(dupes.body.message)).toContain('Duplicate IDs');
  });

  it('writes stage timestamps on every stage change (create, update, batch update, UI move)', async () => {
    const hs = sb.client();
    const t0 = clock.now();
    const deal = await hs.crm.deals.basicApi.create({
      properties: { dealname: 'Stages', pipeline: 'intake', dealstage: '1001' },
      associations: [],
    });
    clock.advance(3_600_000);
    await hs.crm.deals.basicApi.update(deal.id, { properties: { dealstage: '1002' } });
    clock.advance(1_800_000);
    await hs.crm.deals.batchApi.update({ inputs: [{ id: deal.id, properties: { dealstage: '1001' } }] });
    clock.advance(60_000);
    sb.portal.ui.moveDeal(deal.id, '1003');
    clock.advance(5_000);

    const iso = (ms: number) => new Date(ms).toISOString();
    const props = [
      'hs_v2_date_entered_1001',
      'hs_v2_date_exited_1001',
      'hs_v2_date_entered_1002',
      'hs_v2_date_exited_1002',
      'hs_v2_date_entered_1003',
      'hs_v2_date_entered_current_stage',
      'hs_v2_time_in_current_stage',
      'hs_v2_cumulative_time_in_1001',
      'hs_is_closed',
      'hs_is_closed_won',
    ];
    const read = await hs.crm.deals.basicApi.getById(deal.id, props);
    expect(read.properties).toMatchObject({
      hs_v2_date_entered_1001: iso(t0 + 5_400_000), // re-entered: the latest entry
      hs_v2_date_exited_1001: iso(t0 + 5_460_000),
      hs_v2_date_entered_1002: iso(t0 + 3_600_000),
      hs_v2_date_exited_1002: iso(t0 + 5_400_000),
      hs_v2_date_entered_1003: iso(t0 + 5_460_000),
      hs_v2_date_entered_current_stage: iso(t0 + 5_460_000),
      hs_v2_time_in_current_stage: '5000',
      hs_v2_cumulative_time_in_1001: String(3_600_000 + 60_000),
      hs_is_closed: 'true',
      hs_is_closed_won: 'true',
    });
  });

  it('lists deals with cursor paging', async () => {
    const hs = sb.client();
    const all = await hs.crm.deals.getAll(undefined, undefined, ['dealname']);
    const firstPage = await hs.crm.deals.basicApi.getPage(2);
    expect(firstPage.results).toHaveLength(2);
    expect(firstPage.paging?.next?.after).toBeTruthy();
    expect(all.length).toBe(sb.portal.objects.all('deals').length);
  });
});
