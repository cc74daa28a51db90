import { HubSpotRequestError } from '../errors';
import type { GatewayContext } from './context';

/**
 * One PATCH for every deal property of the apply (written-back fields, stage move, owner). If HubSpot rejects
 * some properties by name, the rest are still written before the error is raised, so one stale enum option
 * cannot block a gate revert.
 */
export async function updateDeal(
  ctx: GatewayContext,
  portalId: string,
  dealId: string,
  props: Record<string, string>,
): Promise<void> {
  try {
    await ctx.batches.updateDeal(portalId, dealId, props);
  } catch (err) {
    if (!(err instanceof HubSpotRequestError) || err.status !== 400 || err.properties.length === 0) throw err;
    const rest = Object.fromEntries(Object.entries(props).filter(([k]) => !err.properties.includes(k)));
    if (Object.keys(rest).length && Object.keys(rest).length < Object.keys(props).length)
      await ctx.batches.updateDeal(portalId, dealId, rest);
    throw err;
  }
}
