import type { MapMirror } from '../objectmap';
import { chunk } from './batching';
import type { GatewayContext, Row } from './context';

/** What alignOwners needs to know of an existing task. */
export const OWNER_PROPERTIES = ['hubspot_owner_id', 'hs_task_status'];

/**
 * A create for a task that already exists was decided again: an earlier attempt created it and died before its
 * decision was saved. If the deal changed owner in between, the decision now in force gives the task to the new
 * owner, and no handoff will ever be made for a change the saved state never saw; so the open task is given to
 * the owner this decision names (a rep-completed one is left as it is). One read, skipped for tasks whose owner
 * and status `known` already holds (the marker lookup reads them); writes only what differs.
 */
export async function alignOwners(
  ctx: GatewayContext,
  portalId: string,
  dealId: string,
  items: Array<{ key: string; properties: Record<string, string> }>,
  known: ReadonlyMap<string, Row>,
  /** The deal's task map as the caller holds it (read once per apply). */
  entries: MapMirror,
): Promise<void> {
  const wanted = new Map<string, string>(); // task id -> owner
  for (const i of items) {
    const e = entries.get(i.key);
    const owner = i.properties.hubspot_owner_id;
    if (owner && e?.state === 'mapped' && !e.closed) wanted.set(e.id, owner);
  }
  const current = new Map(
    [...wanted.keys()].flatMap((id) => (known.has(id) ? [[id, known.get(id)!] as const] : [])),
  );
  for (const part of chunk([...wanted.keys()].filter((id) => !current.has(id)))) {
    const { res } = await ctx.batches.read(portalId, 'tasks', part, OWNER_PROPERTIES);
    for (const r of res.results) current.set(r.id, r.properties);
  }
  const updates: Array<{ id: string; properties: Record<string, string> }> = [];
  for (const [id, props] of current) {
    const owner = wanted.get(id);
    if (owner && props.hs_task_status !== 'COMPLETED' && props.hubspot_owner_id !== owner)
      updates.push({ id, properties: { hubspot_owner_id: owner } });
  }
  for (const part of chunk(updates)) {
    const res = await ctx.batches.updateTasks(portalId, part);
    // A refused owner (deactivated) leaves the task where it was: not worth failing the deal's decision for.
    const rejected = (res.errors ?? []).filter((e) => e.category !== 'OBJECT_NOT_FOUND');
    if (rejected.length)
      ctx.logger?.warn({ portalId, dealId, rejected: rejected.length }, 'task owner realignment refused');
  }
  if (updates.length)
    ctx.logger?.warn(
      { portalId, dealId, reassigned: updates.length },
      'tasks created by an unsaved attempt given to the owner decided now',
    );
}
