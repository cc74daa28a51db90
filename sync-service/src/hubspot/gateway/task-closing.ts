import type { MapMirror } from '../objectmap';
import { chunk, notFoundIds, throwIfTaskUpdatesRefused } from './batching';
import type { GatewayContext } from './context';
import { findMarked } from './marked-objects';
import type { TaskDetail } from './task-details';
import { cancelledProperties } from './task-copies';

/** completeTask and cancelTask (`reason` set: cancel, see cancelledProperties). */
export async function closeTasks(
  ctx: GatewayContext,
  portalId: string,
  dealId: string,
  closes: Map<string, { reason?: string }>,
  /** The deal's task map as the caller holds it (read once per apply); read here when not given. */
  known?: MapMirror,
): Promise<void> {
  let entries = known ?? (await ctx.taskMap.get(portalId, dealId));
  // A create whose answer was lost may have landed: find it by its marker so it is closed too.
  const pending = [...closes.keys()].filter((k) => entries.get(k)?.state === 'pending');
  if (pending.length) {
    const found = await findMarked(ctx, portalId, dealId, 'tasks', new Set(pending));
    await ctx.taskMap.setIds(portalId, dealId, found);
    entries = await ctx.taskMap.get(portalId, dealId);
  }

  const targets = new Map<string, string>(); // key -> task id
  for (const key of closes.keys()) {
    const e = entries.get(key);
    if (e?.state === 'mapped' && !e.closed) targets.set(key, e.id);
  }
  if (targets.size === 0) return;

  // Cancelling edits the task's own text, so it needs the text (and learns the status with it). Completing
  // does not: writing COMPLETED over a task a rep already completed changes nothing, and a deleted task
  // answers not-found, so completes are written without a read.
  const details = new Map<string, TaskDetail>();
  const blind = new Set<string>();
  const unknown: string[] = [];
  for (const [key, id] of targets) {
    const d = ctx.details.recall(portalId, id);
    if (d) details.set(id, d);
    else if (closes.get(key)!.reason === undefined) blind.add(id);
    else unknown.push(id);
  }
  if (unknown.length) for (const [id, d] of await ctx.details.read(portalId, unknown)) details.set(id, d);

  const gone: string[] = [];
  const alreadyDone = new Map<string, string>();
  const updates: Array<{ key: string; id: string; properties: Record<string, string> }> = [];
  for (const [key, id] of targets) {
    if (blind.has(id)) {
      updates.push({ key, id, properties: { hs_task_status: 'COMPLETED' } });
      continue;
    }
    const d = details.get(id);
    if (!d) {
      gone.push(key); // deleted in HubSpot: nothing to close
      continue;
    }
    if (d.status === 'COMPLETED') {
      alreadyDone.set(key, id); // a rep finished it first; their outcome stands
      continue;
    }
    const reason = closes.get(key)!.reason;
    const properties =
      reason === undefined ? { hs_task_status: 'COMPLETED' } : cancelledProperties(d, reason);
    updates.push({ key, id, properties });
  }
  await ctx.taskMap.remove(portalId, dealId, gone);
  await ctx.taskMap.markClosed(portalId, dealId, alreadyDone, 'rep');

  for (const part of chunk(updates)) {
    const res = await ctx.batches.updateTasks(
      portalId,
      part.map((u) => ({ id: u.id, properties: u.properties })),
    );
    const ok = new Set(res.results.map((r) => r.id));
    await ctx.taskMap.markClosed(
      portalId,
      dealId,
      new Map(part.filter((u) => ok.has(u.id)).map((u) => [u.key, u.id])),
    );
    for (const u of part) ctx.details.forget(portalId, u.id);
    const missing = notFoundIds(res.errors);
    // Deleted in HubSpot since we mapped it: nothing left to close.
    await ctx.taskMap.remove(
      portalId,
      dealId,
      part.filter((u) => missing.has(u.id) && !ok.has(u.id)).map((u) => u.key),
    );
    throwIfTaskUpdatesRefused(portalId, res.errors, 'update(s)');
  }
}
