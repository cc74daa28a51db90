import type { MapEntry } from '../objectmap';
import { chunk, throwIfTaskUpdatesRefused } from './batching';
import type { GatewayContext } from './context';
import type { TaskDetail } from './task-details';

const CANCELLED_PREFIX = '[Cancelled] ';
/** The line a cancel appends to the task's body, which tells a task Stagekeeper cancelled from a rep's done one. */
const CANCELLED_LINE = '\n\nCancelled by Stagekeeper: ';
/** Why a copy is cancelled, as the rep reads it in the task. */
export const COPY_REASON = 'a second copy of a task Stagekeeper had already created';

/**
 * HubSpot tasks have no "cancelled" status (only NOT_STARTED … COMPLETED), so a cancelled task is closed as
 * COMPLETED with its subject prefixed and the reason appended, which keeps it off the rep's open list while its
 * history stays readable.
 */
export function cancelledProperties(d: TaskDetail, reason: string): Record<string, string> {
  return {
    hs_task_status: 'COMPLETED',
    hs_task_subject: d.subject.startsWith(CANCELLED_PREFIX) ? d.subject : `${CANCELLED_PREFIX}${d.subject}`,
    hs_task_body: `${d.body}${CANCELLED_LINE}${reason}`,
  };
}

/** Whether a task read back (status and body) is one Stagekeeper cancelled (cancelledProperties). */
export const cancelledByStagekeeper = (p: Record<string, string | null | undefined>): boolean =>
  p.hs_task_status === 'COMPLETED' && (p.hs_task_body ?? '').includes(CANCELLED_LINE);

/**
 * The task ids beyond the one a key's map entry names (or, when the key is not mapped, beyond its oldest):
 * second copies of one engine key. The task map holds one id per key, so a copy is closed by nothing else; one
 * arises when a create in flight lands beside the one a re-seeded sweep made after Redis lost its data (the
 * chaos suite's finding: a copy left open on a merge survivor).
 */
export function extraCopies(
  marked: ReadonlyMap<string, readonly string[]>,
  entries: ReadonlyMap<string, MapEntry>,
): string[] {
  const extra: string[] = [];
  for (const [key, ids] of marked) {
    if (ids.length < 2) continue;
    const e = entries.get(key);
    const keep = e?.state === 'mapped' && ids.includes(e.id) ? e.id : ids[0];
    extra.push(...ids.filter((id) => id !== keep));
  }
  return extra;
}

/**
 * Cancels copies (see extraCopies) still open; one a rep completed keeps their outcome, one deleted is gone.
 * One batch read and one batch update per 100 copies, which are rare.
 */
export async function cancelCopies(
  ctx: GatewayContext,
  portalId: string,
  dealId: string,
  ids: string[],
  reason: string,
): Promise<void> {
  if (ids.length === 0) return;
  const details = await ctx.details.read(portalId, ids);
  const open = [...details].filter(([, d]) => d.status !== 'COMPLETED');
  for (const part of chunk(open)) {
    const res = await ctx.batches.updateTasks(
      portalId,
      part.map(([id, d]) => ({ id, properties: cancelledProperties(d, reason) })),
    );
    for (const [id] of part) ctx.details.forget(portalId, id);
    throwIfTaskUpdatesRefused(portalId, res.errors, 'copy cancel(s)');
  }
  if (open.length) ctx.logger?.warn({ portalId, dealId, copies: open.length }, 'cancelled copies of a task');
}
