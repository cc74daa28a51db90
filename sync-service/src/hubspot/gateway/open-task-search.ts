import type { Client } from '@hubspot/api-client';
import type { FilterOperatorEnum } from '@hubspot/api-client/lib/codegen/crm/deals/index';
import type { HubSpotCaller } from '../call';
import { SEARCH_PAGE } from './batching';

/** Pages of open tasks read for the fewest-open-tasks routing (SEARCH_PAGE each). */
const OPEN_TASK_PAGES = 5;
/** How long an owner's open-task count read for a breach is reused (see ownerOpenTasks). */
const OWNER_LOAD_TTL_MS = 60_000;
/** Owner loads kept at most before the lot is dropped. */
const MAX_OWNER_LOADS = 10_000;

type OwnerFilter = { propertyName: string; operator: FilterOperatorEnum; value?: string; values?: string[] };

/**
 * Counts of open (not COMPLETED) tasks per owner, all tasks, not only Stagekeeper's: a breach's capacity
 * evidence and the fewest-open-tasks routing. Both go through one task search, which HubSpot limits to
 * 5 calls a second per account.
 */
export class OpenTaskSearch {
  /** Owner loads read in the last minute (and reads in flight), per portal and owner: see `ownerOpenTasks`. */
  private readonly loads = new Map<string, { at: number; count: Promise<number> }>();

  constructor(
    private readonly caller: HubSpotCaller,
    private readonly now: () => number,
  ) {}

  /**
   * Breaches come in bursts (a deadline shared by many deals) and search is limited to 5 calls a second per
   * account, so one read per owner serves the breaches of the next minute: a load a minute old is evidence enough.
   */
  async ownerOpenTasks(portalId: string, ownerId: string): Promise<number> {
    const key = `${portalId}:${ownerId}`;
    const hit = this.loads.get(key);
    if (hit && this.now() - hit.at < OWNER_LOAD_TTL_MS) return hit.count;
    if (this.loads.size > MAX_OWNER_LOADS) this.loads.clear();
    const count = this.searchOwnerOpenTasks(portalId, ownerId);
    this.loads.set(key, { at: this.now(), count });
    count.catch(() => this.loads.delete(key));
    return count;
  }

  /**
   * Open tasks per owner: one search for all of them (owner IN ..., status not COMPLETED), counted page by page.
   * Search has its own, small rate limit (5/s), so one call per routing decision rather than one per member;
   * beyond OPEN_TASK_PAGES pages the owners are all busy enough that the counts so far decide.
   */
  async openTaskCounts(portalId: string, ownerIds: string[]): Promise<Record<string, number>> {
    const counts: Record<string, number> = Object.fromEntries(ownerIds.map((id) => [id, 0]));
    if (ownerIds.length === 0) return counts;
    let after: string | undefined;
    for (let page = 0; page < OPEN_TASK_PAGES; page++) {
      const res = await this.searchOpenTasks(
        portalId,
        { propertyName: 'hubspot_owner_id', operator: 'IN' as FilterOperatorEnum, values: ownerIds },
        SEARCH_PAGE,
        after,
      );
      for (const r of res.results) {
        const owner = r.properties.hubspot_owner_id;
        if (owner && owner in counts) counts[owner]! += 1;
      }
      after = res.paging?.next?.after;
      if (!after) break;
    }
    return counts;
  }

  private async searchOwnerOpenTasks(portalId: string, ownerId: string): Promise<number> {
    // One search call; `total` counts every match (HubSpot reports it exactly up to 10,000), so one result suffices.
    const page = await this.searchOpenTasks(
      portalId,
      { propertyName: 'hubspot_owner_id', operator: 'EQ' as FilterOperatorEnum, value: ownerId },
      1,
    );
    return page.total;
  }

  /** One page of the open (not COMPLETED) tasks matching an owner filter: the one search both counts use. */
  private searchOpenTasks(portalId: string, owner: OwnerFilter, limit: number, after?: string) {
    return this.caller.call(
      portalId,
      'tasks.search',
      (c) =>
        c.crm.objects.tasks.searchApi.doSearch({
          filterGroups: [
            {
              filters: [
                owner,
                { propertyName: 'hs_task_status', operator: 'NEQ' as FilterOperatorEnum, value: 'COMPLETED' },
              ],
            },
          ],
          properties: ['hubspot_owner_id'],
          limit,
          ...(after ? { after } : {}),
        } as Parameters<Client['crm']['objects']['tasks']['searchApi']['doSearch']>[0]),
      { bucket: 'search' },
    );
  }
}
