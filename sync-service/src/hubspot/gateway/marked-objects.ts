import { chunk } from './batching';
import { bodyProperty, type GatewayContext, type ObjectType, type Row } from './context';
import { OWNER_PROPERTIES } from './owner-alignment';
import { cancelCopies, cancelledByStagekeeper, COPY_REASON, extraCopies } from './task-copies';

/**
 * The line that ties a HubSpot task or note back to the engine key that created it. It lets a crashed create be
 * found again (recovery reads bodies of the deal's associated tasks) instead of being made twice.
 */
export const marker = (key: string) => `[stagekeeper:${key}]`;
const MARKER_RE = /\[stagekeeper:([^\]\s]+)\]/g;

/** The engine keys whose markers a body carries, in order. */
export const markedKeys = (body: string): string[] => [...body.matchAll(MARKER_RE)].map((m) => m[1]!);

/**
 * Engine key -> id of the deal's associated tasks/notes that carry a marker for one of `keys` (`all`: any
 * marker). One association listing plus a batch read of the bodies. `read` collects each found task's owner and
 * status, read in the same call, for alignOwners.
 */
export async function findMarked(
  ctx: GatewayContext,
  portalId: string,
  dealId: string,
  type: ObjectType,
  keys: Set<string> | 'all',
  read?: Map<string, Row>,
  /** Filled with every id found per key, oldest first, copies included (see extraCopies). */
  copies?: Map<string, string[]>,
): Promise<Map<string, string>> {
  const ids: string[] = [];
  let after: string | undefined;
  do {
    const page = await ctx.caller.call(portalId, `associations.${type}.list`, (c) =>
      c.crm.associations.v4.basicApi.getPage('deals', dealId, type, after, 500),
    );
    page.results.forEach((r) => ids.push(String(r.toObjectId)));
    after = page.paging?.next?.after;
  } while (after);

  const found = new Map<string, string>();
  const bodyProp = bodyProperty(type);
  // Oldest first, so if a duplicate slipped through earlier the original keeps the mapping.
  ids.sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0));
  for (const part of chunk(ids)) {
    const { res } = await ctx.batches.read(
      portalId,
      type,
      part,
      type === 'tasks' ? [bodyProp, ...OWNER_PROPERTIES] : [bodyProp],
    );
    const byId = new Map(res.results.map((r) => [r.id, r]));
    for (const id of part) {
      const body = byId.get(id)?.properties[bodyProp] ?? '';
      for (const key of markedKeys(body)) {
        if (keys !== 'all' && !keys.has(key)) continue;
        if (copies) copies.set(key, [...(copies.get(key) ?? []), id]);
        if (found.has(key)) continue;
        found.set(key, id);
        if (type === 'tasks') read?.set(id, byId.get(id)!.properties);
      }
    }
  }
  return found;
}

/**
 * Maps every Stagekeeper task the deal already has in HubSpot (found by its `[stagekeeper:<key>]` marker) into
 * the task map, for a deal whose state is unknown (first seen, or Redis lost its data): the engine then adopts
 * the current visit's tasks instead of creating them again, and cancels the open ones of ended visits. A second
 * copy of a key is cancelled here: the map can name only one. One association listing (plus a body read when
 * there are tasks). Returns how many were mapped.
 */
export async function adoptMarkedTasks(
  ctx: GatewayContext,
  portalId: string,
  dealId: string,
): Promise<number> {
  const copies = new Map<string, string[]>();
  const read = new Map<string, Row>();
  const found = await findMarked(ctx, portalId, dealId, 'tasks', 'all', read, copies);
  const known = await ctx.taskMap.get(portalId, dealId);
  const fresh = new Map([...found].filter(([key]) => known.get(key)?.state !== 'mapped'));
  if (fresh.size) await ctx.taskMap.setIds(portalId, dealId, fresh);
  // Who closed a task decides what a later create (gateway/task-reopening.ts) and a reopen in HubSpot mean; a task
  // Stagekeeper cancelled says so in its body. The other completed ones are taken as a rep's (rememberCompleted).
  const cancelled = new Map([...fresh].filter(([, id]) => cancelledByStagekeeper(read.get(id) ?? {})));
  await ctx.taskMap.markClosed(portalId, dealId, cancelled, 'stagekeeper');
  await cancelCopies(ctx, portalId, dealId, extraCopies(copies, known), COPY_REASON);
  return fresh.size;
}
