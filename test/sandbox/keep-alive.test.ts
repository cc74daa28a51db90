import { expect, it } from 'vitest';
import { startSandbox } from './harness';

// HubSpot keeps an idle client connection open for about a minute; a sandbox that closes it sooner makes every
// call of a bulk move pay a TCP handshake the real portal does not charge, and skews every benchmark over it.
it('keeps a client connection alive across calls and idle gaps, as HubSpot does', async () => {
  const sb = await startSandbox();
  try {
    const hs = sb.client();
    const deal = await hs.crm.deals.basicApi.create({ properties: { dealname: 'Kept' }, associations: [] });
    await hs.crm.deals.basicApi.getById(deal.id, ['dealstage']);
    // undici may open a second socket while the first is settling; after that the pool is warm.
    const warm = sb.server.connections();
    for (let i = 0; i < 10; i++) await hs.crm.deals.basicApi.getById(deal.id, ['dealstage']);
    // Longer than the old one-second idle timeout, far shorter than HubSpot's.
    await new Promise((r) => setTimeout(r, 1_500));
    await hs.crm.deals.basicApi.getById(deal.id, ['dealstage']);
    expect(sb.server.connections() - warm).toBe(0);
  } finally {
    await sb.close();
  }
});
