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
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toEqual([
      { method: 'POST', url: '/crm/v3/objects/deals', body: { properties: { dealname: 'Logged' }, associations: [] } },
      { method: 'PATCH', url: `/crm/v3/objects/deals/${deal.id}`, body: { properties: { dealstage: 'qualifiedtobuy' } } },
      { method: 'GET', url: `/crm/v3/objects/deals/${deal.id}?properties=dealstage&properties=amount`, body: null },
    ]);
    expect(sb.portal.count('PATCH', /^\/crm\/v3\/objects\/deals\/\d+$/)).toBe(1);
  } finally {
    await sb.close();
  }
});
