import { Client } from '@hubspot/api-client';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sandboxHandlers } from './msw';
import { SandboxPortal } from './portal';

const portal = new SandboxPortal();
const server = setupServer(...sandboxHandlers(portal));
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterAll(() => {
  server.close();
  portal.close();
});

it('serves the unmodified client at api.hubapi.com through msw, from the same router', async () => {
  const hs = new Client({ accessToken: portal.privateAppToken });
  const deal = await hs.crm.deals.basicApi.create({
    properties: { dealname: 'Via msw', amount: '10' },
    associations: [],
  });
  const read = await hs.crm.deals.basicApi.getById(deal.id, ['amount']);
  expect(read.properties.amount).toBe('10');
  const e = await hs.crm.deals.basicApi
    .update(deal.id, { properties: { amount: 'ten' } })
    .catch((err: { code: number }) => err);
  expect((e as { code: number }).code).toBe(400);
  await hs.crm.deals.basicApi.archive(deal.id);
  expect(portal.requests.map((r) => `${r.method} ${r.status}`)).toEqual([
    'POST 201',
    'GET 200',
    'PATCH 400',
    'DELETE 204',
  ]);
});
