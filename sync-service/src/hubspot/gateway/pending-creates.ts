import type { MapEntry } from '../objectmap';
import type { GatewayContext } from './context';
import { findMarked } from './marked-objects';
import { cancelCopies, COPY_REASON, extraCopies } from './task-copies';

/** How long a write-ahead marker may belong to a create still under way (see `isAbandoned`). */
const PENDING_GRACE_MS = 10 * 60_000;

/**
 * A snapshot is read outside the deal lock, so a pending create not found may still be on its way (the job
 * holding the lock waits for a rate-limit slot, or its request is in flight). Dropping its marker then would
 * let a retry of that job, killed after the create landed, create the task a second time (a duplicate the
 * chaos suite found). Only a marker older than any live attempt is taken as a create that never landed.
 */
function isAbandoned(ctx: GatewayContext, e: MapEntry | undefined): boolean {
  return e?.state === 'pending' && ctx.now() - e.since > PENDING_GRACE_MS;
}

/**
 * A `pending` task key is a create whose answer never reached us (crash, lost response). The engine may not ask
 * for that key again (the deal moved on), so the task is looked up by its marker here and mapped: the engine
 * then sees it and closes it if its visit has ended. Costs reads only for deals that have pending keys.
 * `maps` is updated in place.
 */
export async function mapPendingCreates(
  ctx: GatewayContext,
  portalId: string,
  maps: Map<string, Map<string, MapEntry>>,
  gone: ReadonlyMap<string, string | undefined>,
): Promise<void> {
  for (const [dealId, m] of maps) {
    const pending = new Set([...m].filter(([, e]) => e.state === 'pending').map(([k]) => k));
    // A merged-away deal's tasks are all mapped from the survivor (mapMergedAwayTasks). A deleted deal has no
    // associations left to list: its pending keys stay as they are (a known gap: a create answer lost just
    // before a delete).
    if (pending.size === 0 || gone.has(dealId)) continue;
    const found = await findMarked(ctx, portalId, dealId, 'tasks', pending);
    // Not in HubSpot: that create never landed. Dropping the marker stops paying this lookup on every read;
    // a later createTask for the key simply creates it.
    await ctx.taskMap.remove(
      portalId,
      dealId,
      [...pending].filter((k) => !found.has(k) && isAbandoned(ctx, m.get(k))),
    );
    await ctx.taskMap.setIds(portalId, dealId, found);
    const fresh = await ctx.taskMap.get(portalId, dealId);
    maps.set(dealId, fresh);
  }
}

/**
 * A merge moves the merged-away deal's tasks to the survivor. Every one carrying a key of the merged-away deal
 * (keys begin with their deal's id, so the survivor's own never match) is mapped for it, whatever its task map
 * held (a pending create, or nothing at all from a job that lost its write), so the gone path can close them
 * all. Two calls per merged-away deal read, which is rare: HubSpot sends nothing more about it after the merge.
 * `gone` maps each deleted or merged-away deal to its survivor, if merged; `maps` is updated in place.
 */
export async function mapMergedAwayTasks(
  ctx: GatewayContext,
  portalId: string,
  maps: Map<string, Map<string, MapEntry>>,
  gone: ReadonlyMap<string, string | undefined>,
): Promise<void> {
  for (const [dealId, survivor] of gone) {
    if (survivor === undefined) continue;
    const m = maps.get(dealId) ?? new Map<string, MapEntry>();
    const copies = new Map<string, string[]>();
    const found = await findMarked(ctx, portalId, survivor, 'tasks', 'all', undefined, copies);
    const mine = (key: string) => key.startsWith(`${dealId}:`);
    // Closed here, as the gone path closes the copy the map names: nothing else knows of them.
    await cancelCopies(
      ctx,
      portalId,
      dealId,
      extraCopies(new Map([...copies].filter(([key]) => mine(key))), m),
      `${COPY_REASON}; the deal was merged into another deal (${survivor})`,
    );
    const fresh = new Map([...found].filter(([key]) => mine(key) && m.get(key)?.state !== 'mapped'));
    const pending = [...m]
      .filter(([key, e]) => e.state === 'pending' && !fresh.has(key) && isAbandoned(ctx, e))
      .map(([key]) => key);
    if (fresh.size === 0 && pending.length === 0) continue;
    await ctx.taskMap.remove(portalId, dealId, pending); // not among the survivor's tasks: never created
    await ctx.taskMap.setIds(portalId, dealId, fresh);
    maps.set(dealId, await ctx.taskMap.get(portalId, dealId));
  }
}
