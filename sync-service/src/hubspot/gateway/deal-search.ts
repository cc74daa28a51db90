import type { FilterOperatorEnum } from '@hubspot/api-client/lib/codegen/crm/deals/index';
import { SEARCH_PAGE } from './batching';
import type { GatewayContext } from './context';
import { parseHubSpotTime } from './hubspot-time';

/** HubSpot refuses to page a search past 10,000 results. */
const SEARCH_CAP = 10_000;

/**
 * Deal ids modified at or after `sinceMs` (CRM search on hs_lastmodifieddate, oldest first), for the
 * missed-webhook sweep, and the newest modification time seen (the sweep's next cursor).
 */
export async function modifiedSince(
  ctx: GatewayContext,
  portalId: string,
  sinceMs: number,
): Promise<{ dealIds: string[]; newestMs: number }> {
  const seen = new Set<string>();
  let newestMs = sinceMs;
  let windowStart = sinceMs;
  for (;;) {
    let after: string | undefined;
    let offset = 0;
    let lastTs = windowStart;
    let exhausted = false;
    for (;;) {
      const page = await ctx.caller.call(
        portalId,
        'deals.search',
        (c) =>
          c.crm.deals.searchApi.doSearch({
            filterGroups: [
              {
                filters: [
                  {
                    propertyName: 'hs_lastmodifieddate',
                    operator: 'GTE' as FilterOperatorEnum,
                    value: String(windowStart),
                  },
                ],
              },
            ],
            // The generated type says string[]; HubSpot's documented form is the object, which the client passes through.
            sorts: [{ propertyName: 'hs_lastmodifieddate', direction: 'ASCENDING' }] as unknown as string[],
            properties: ['hs_lastmodifieddate'],
            limit: SEARCH_PAGE,
            ...(after ? { after } : {}),
          }),
        { bucket: 'search' },
      );
      for (const r of page.results) {
        seen.add(r.id);
        const ts = parseHubSpotTime(r.properties.hs_lastmodifieddate);
        if (ts !== null) {
          lastTs = Math.max(lastTs, ts);
          newestMs = Math.max(newestMs, ts);
        }
      }
      offset += page.results.length;
      after = page.paging?.next?.after;
      if (!after || page.results.length === 0) {
        exhausted = true;
        break;
      }
      // The next page would cross the 10,000 cap: start a new query from the last timestamp seen instead.
      if (offset + SEARCH_PAGE > SEARCH_CAP) break;
    }
    if (exhausted) break;
    if (lastTs <= windowStart) {
      // 10,000 deals modified in the same millisecond: the window cannot move on; the next sweep starts here.
      ctx.logger?.warn(
        { portalId, operation: 'deals.search', windowStart },
        'search window stuck at 10,000 results',
      );
      break;
    }
    // GTE on the last timestamp re-reads deals sharing it; `seen` removes the repeats.
    windowStart = lastTs;
  }
  return { dealIds: [...seen], newestMs };
}
