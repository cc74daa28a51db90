import { FilterOperatorEnum } from '@hubspot/api-client/lib/codegen/crm/deals';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from './clock';
import { refusal, startSandbox } from './harness';

const clock = manualClock(Date.parse('2026-03-02T14:00:00Z'));
let sb: Awaited<ReturnType<typeof startSandbox>>;
const ids: string[] = [];
let client: ReturnType<typeof sb.client> | undefined;
const hs = () => (client ??= sb.client());

beforeAll(async () => {
  // A generous search bucket: these tests are about semantics, the 5/s limit has its own test.
  sb = await startSandbox({ now: clock.now, searchRateLimit: { max: 1000 } });
  for (let i = 0; i < 25; i++) {
    clock.advance(60_000);
    const d = sb.portal.ui.createDeal({
      dealname: `Patient ${i} ${i % 2 ? 'follow up' : 'new referral'}`,
      amount: String(i * 10),
      dealstage: i < 10 ? 'appointmentscheduled' : 'qualifiedtobuy',
      ...(i % 5 === 0 ? { description: 'urgent' } : {}),
    });
    ids.push(d.id);
  }
});
afterAll(() => sb.close());

const search = (body: Record<string, unknown>) =>
  hs().crm.deals.searchApi.doSearch({
    filterGroups: [],
    properties: ['dealname', 'amount'],
    limit: 100,
    after: '0',
    sorts: [],
    ...body,
  } as never);

describe('CRM search', () => {
  it('ANDs filters in a group, ORs groups, and pages with after', async () => {
    const res = await search({
      filterGroups: [
        {
          filters: [
            { propertyName: 'dealstage', operator: FilterOperatorEnum.Eq, value: 'appointmentscheduled' },
            { propertyName: 'amount', operator: FilterOperatorEnum.Gte, value: '50' },
          ],
        },
        {
          filters: [
            { propertyName: 'amount', operator: FilterOperatorEnum.Between, value: '200', highValue: '220' },
          ],
        },
      ],
      limit: 3,
      sorts: [{ propertyName: 'amount', direction: 'DESCENDING' }],
    });
    expect(res.total).toBe(5 + 3);
    expect(res.results.map((r) => r.properties.amount)).toEqual(['220', '210', '200']);
    expect(res.paging?.next?.after).toBe('3');
    const next = await search({ filterGroups: [], limit: 10, after: '20' });
    expect(next.results).toHaveLength(5);
    expect(next.paging).toBeUndefined();
  });

  it('supports every operator', async () => {
    const count = async (filter: Record<string, unknown>) =>
      (await search({ filterGroups: [{ filters: [filter] }] })).total;
    expect(await count({ propertyName: 'amount', operator: 'NEQ', value: '0' })).toBe(24);
    expect(await count({ propertyName: 'amount', operator: 'LT', value: '30' })).toBe(3);
    expect(await count({ propertyName: 'amount', operator: 'LTE', value: '30' })).toBe(4);
    expect(await count({ propertyName: 'amount', operator: 'GT', value: '230' })).toBe(1);
    expect(await count({ propertyName: 'dealstage', operator: 'IN', values: ['qualifiedtobuy'] })).toBe(15);
    expect(await count({ propertyName: 'dealstage', operator: 'NOT_IN', values: ['qualifiedtobuy'] })).toBe(
      10,
    );
    expect(await count({ propertyName: 'description', operator: 'HAS_PROPERTY' })).toBe(5);
    expect(await count({ propertyName: 'description', operator: 'NOT_HAS_PROPERTY' })).toBe(20);
    expect(await count({ propertyName: 'dealname', operator: 'CONTAINS_TOKEN', value: 'referral' })).toBe(13);
    expect(await count({ propertyName: 'dealname', operator: 'NOT_CONTAINS_TOKEN', value: 'refer*' })).toBe(
      12,
    );
    // Datetimes compare as instants, whether the filter is given in epoch ms or ISO.
    const tenth = sb.portal.objects.get('deals', ids[9]!).props.get('hs_lastmodifieddate')!;
    expect(
      await count({ propertyName: 'hs_lastmodifieddate', operator: 'LTE', value: String(Date.parse(tenth)) }),
    ).toBe(10);
    expect(await count({ propertyName: 'hs_lastmodifieddate', operator: 'GT', value: tenth })).toBe(15);
  });

  it('refuses requests beyond HubSpot limits with 400', async () => {
    const f = { propertyName: 'amount', operator: 'GT', value: '1' };
    const cases: Record<string, unknown>[] = [
      { filterGroups: Array.from({ length: 6 }, () => ({ filters: [f] })) },
      { filterGroups: [{ filters: Array.from({ length: 7 }, () => f) }] },
      { filterGroups: Array.from({ length: 4 }, () => ({ filters: Array.from({ length: 5 }, () => f) })) }, // 20 > 18
      { limit: 201 },
      { after: '9950', limit: 100 },
      {
        sorts: [
          { propertyName: 'amount', direction: 'ASCENDING' },
          { propertyName: 'dealname', direction: 'ASCENDING' },
        ],
      },
      { filterGroups: [{ filters: [{ propertyName: 'not_a_property', operator: 'EQ', value: 'x' }] }] },
    ];
    for (const c of cases) {
      const r = await refusal(search(c));
      expect(r, JSON.stringify(c)).toMatchObject({ code: 400, body: { category: 'VALIDATION_ERROR' } });
    }
    // The edge of the cap is still allowed.
    expect((await search({ after: '9800', limit: 200 })).results).toEqual([]);
  });

  it('answers over-budget search with the secondly-limit body and no rate-limit headers', async () => {
    sb.portal.setSearchRateLimit({ max: 2, windowMs: 1000 });
    clock.advance(1000);
    try {
      const call = () =>
        fetch(`${sb.server.url}/crm/v3/objects/deals/search`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${sb.portal.privateAppToken}`,
            'content-type': 'application/json',
          },
          body: '{}',
        });
      const [a, b, c] = [await call(), await call(), await call()];
      expect([a.status, b.status, c.status]).toEqual([200, 200, 429]);
      expect(await c.json()).toMatchObject({
        message: 'You have reached your secondly limit.',
        errorType: 'RATE_LIMIT',
      });
      expect(a.headers.get('x-hubspot-ratelimit-max')).toBeNull();
      clock.advance(1000);
      expect((await call()).status).toBe(200);
    } finally {
      sb.portal.setSearchRateLimit({ max: 1000 });
    }
  });
});
