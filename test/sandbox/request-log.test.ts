import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { startSandbox } from './harness';

it('appends every served request as a JSON line and keeps an in-memory log for counting', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'sandbox-')), 'requests.jsonl');
  const sb = await startSandbox({ requestLog: file });
  try {
    const hs = sb.client();
    const deal = await hs.crm.deals.basicApi.create({ properties: { dealname: 'Logged' }, associations: [] });
    await hs.crm.deals.basicApi.update(deal.id, { properties: { dealstage: 'qualifiedtobuy' } });
    await hs.crm.deals.basicApi.getById(deal.id, ['dealstage', 'amount']);
    // A request HubSpot would refuse is refused, and the log says so.
    await expect(
      hs.crm.deals.basicApi.update(deal.id, { properties: { no_such_property: 'x' } }),
    ).rejects.toMatchObject({ code: 400 });
    const lines = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toEqual([
      {
        method: 'POST',
        url: '/crm/v3/objects/deals',
        status: 201,
        body: { properties: { dealname: 'Logged' }, associations: [] },
      },
      {
        method: 'PATCH',
        url: `/crm/v3/objects/deals/${deal.id}`,
        status: 200,
        body: { properties: { dealstage: 'qualifiedtobuy' } },
      },
      {
        method: 'GET',
        url: `/crm/v3/objects/deals/${deal.id}?properties=dealstage&properties=amount`,
        status: 200,
        body: null,
      },
      {
        method: 'PATCH',
        url: `/crm/v3/objects/deals/${deal.id}`,
        status: 400,
        body: { properties: { no_such_property: 'x' } },
      },
    ]);
    expect(sb.portal.count('PATCH', /^\/crm\/v3\/objects\/deals\/\d+$/)).toBe(2);
    expect(sb.portal.requests.map((r) => r.status)).toEqual([201, 200, 200, 400]);
  } finally {
    await sb.close();
  }
});
