import { chunk, throwIfReadRefused } from './batching';
import type { GatewayContext } from './context';

/**
 * The ones of these deals HubSpot no longer has under their id, in the order given: one batch read per 100 ids,
 * asking for no property (HubSpot answers with its defaults). A deleted id comes back as an OBJECT_NOT_FOUND
 * error; a merged-away id as the surviving record under the survivor's id: either way no row carries the id
 * asked for. Any other error about these ids fails the whole check (a deal wrongly called gone would have its
 * patient's clocks cancelled).
 */
export async function goneDeals(ctx: GatewayContext, portalId: string, dealIds: string[]): Promise<string[]> {
  const gone: string[] = [];
  for (const part of chunk([...new Set(dealIds)])) {
    const { res } = await ctx.batches.read(portalId, 'deals', part, []);
    throwIfReadRefused(portalId, 'deals.batch.read', res.errors, part);
    const found = new Set(res.results.map((r) => r.id));
    gone.push(...part.filter((id) => !found.has(id)));
  }
  return gone;
}
