import type { MapEntry, MapMirror } from '../objectmap';
import { chunk, notFoundIds, throwIfTaskUpdatesRefused } from './batching';
import type { GatewayContext } from './context';

/** A map entry for a task Stagekeeper itself completed or cancelled. */
const closedByStagekeeper = (e: MapEntry | undefined): e is Extract<MapEntry, { state: 'mapped' }> =>
  e?.state === 'mapped' && e.closed && e.closedBy === 'stagekeeper';

/**
 * A create decided for a key whose task Stagekeeper itself closed asks for that task to be open again: a deleted
 * deal HubSpot restored takes up its visit again (engine/restore.ts), under the same entry and so the same keys,
 * whose tasks the deletion cancelled. (A decision retried over another job's that closed a task of its visit
 * wants it open too; its saved state decides what stays open.) The task is reopened with the create's values
 * (status, subject without "[Cancelled]", body and marker, due time, owner) rather than left closed, which would
 * leave the rep no task, or created a second time under the same marker. One a rep completed is not among them:
 * their outcome stands. A task deleted in HubSpot since is forgotten and left to the create. Returns the keys
 * reopened.
 */
export async function reopenTasks(
  ctx: GatewayContext,
  portalId: string,
  dealId: string,
  items: Array<{ key: string; properties: Record<string, string> }>,
  entries: MapMirror,
): Promise<Set<string>> {
  const targets = items.flatMap((i) => {
    const e = entries.get(i.key);
    return closedByStagekeeper(e) ? [{ key: i.key, id: e.id, properties: i.properties }] : [];
  });
  const reopened = new Set<string>();
  for (const part of chunk(targets)) {
    const res = await ctx.batches.updateTasks(
      portalId,
      part.map((t) => ({ id: t.id, properties: t.properties })),
    );
    const ok = new Set(res.results.map((r) => r.id));
    const done = part.filter((t) => ok.has(t.id));
    await ctx.taskMap.setIds(portalId, dealId, new Map(done.map((t) => [t.key, t.id])), entries);
    for (const t of part) ctx.details.forget(portalId, t.id);
    for (const t of done) reopened.add(t.key);
    const missing = notFoundIds(res.errors);
    await ctx.taskMap.remove(
      portalId,
      dealId,
      part.filter((t) => missing.has(t.id) && !ok.has(t.id)).map((t) => t.key),
      entries,
    );
    throwIfTaskUpdatesRefused(portalId, res.errors, 'reopen(s)');
  }
  if (reopened.size)
    ctx.logger?.debug?.(
      { portalId, dealId, reopened: reopened.size },
      'tasks Stagekeeper had closed reopened',
    );
  return reopened;
}
