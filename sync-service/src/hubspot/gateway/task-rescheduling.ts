import { chunk, throwIfTaskUpdatesRefused } from './batching';
import type { GatewayContext } from './context';

/**
 * Moves the due time of open mapped tasks (engine key -> new due time). A task a rep completed or deleted is
 * left alone; a task created in this same apply already carries the new due time.
 */
export async function rescheduleTasks(
  ctx: GatewayContext,
  portalId: string,
  dealId: string,
  dues: Map<string, number>,
): Promise<void> {
  const entries = await ctx.taskMap.get(portalId, dealId);
  const inputs: Array<{ id: string; properties: Record<string, string> }> = [];
  for (const [key, dueAt] of dues) {
    const e = entries.get(key);
    if (e?.state === 'mapped' && !e.closed)
      inputs.push({ id: e.id, properties: { hs_timestamp: String(dueAt) } });
  }
  for (const part of chunk(inputs)) {
    const res = await ctx.batches.updateTasks(portalId, part);
    throwIfTaskUpdatesRefused(portalId, res.errors, 'reschedule(s)');
  }
}
