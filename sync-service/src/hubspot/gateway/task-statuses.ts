import type { DealSnapshot } from '@stagekeeper/shared';
import type { MapEntry } from '../objectmap';
import type { GatewayContext } from './context';

type TaskMaps = Map<string, Map<string, MapEntry>>;

/**
 * Status of every open task Stagekeeper mapped for these deals (task id -> status). The closed tasks of a deal
 * that has open ones ride along in the same batch read (no extra call), so a reopen is seen. The text read with
 * them is remembered for a cancel that may follow (task-details.ts).
 */
export async function readTaskStatuses(
  ctx: GatewayContext,
  portalId: string,
  maps: TaskMaps,
): Promise<Map<string, string>> {
  const ids = new Set<string>();
  for (const m of maps.values()) {
    const mapped = [...m.values()].filter(
      (e): e is Extract<MapEntry, { state: 'mapped' }> => e.state === 'mapped',
    );
    if (!mapped.some((e) => !e.closed)) continue;
    for (const e of mapped) ids.add(e.id);
  }
  const details = await ctx.details.read(portalId, [...ids]);
  return new Map([...details].map(([id, d]) => [id, d.status]));
}

/**
 * Tasks a rep completed are recorded as closed, so later reconciles of the deal skip reading them: that keeps
 * a typical transition at one read. A later reopen is noticed by noticeReopened.
 */
export async function rememberCompleted(
  ctx: GatewayContext,
  portalId: string,
  maps: TaskMaps,
  statuses: Map<string, string>,
): Promise<void> {
  for (const [dealId, m] of maps) {
    const done = new Map<string, string>();
    for (const [key, e] of m)
      if (e.state === 'mapped' && !e.closed && statuses.get(e.id) === 'COMPLETED') done.set(key, e.id);
    await ctx.taskMap.markClosed(portalId, dealId, done, 'rep');
  }
}

/**
 * A closed task whose status read back as anything but COMPLETED was reopened by a rep. One a rep had
 * completed is tracked again (its gate or handover counts it open). One Stagekeeper closed belonged to a
 * visit that has ended (Stagekeeper closes tasks only when they stop applying): it becomes the rep's own,
 * forgotten here, so the engine neither counts it nor cancels it again. `maps` is updated in place.
 */
export async function noticeReopened(
  ctx: GatewayContext,
  portalId: string,
  maps: TaskMaps,
  statuses: Map<string, string>,
): Promise<void> {
  for (const [dealId, m] of maps) {
    const track = new Map<string, string>();
    const forget: string[] = [];
    for (const [key, e] of m) {
      if (e.state !== 'mapped' || !e.closed) continue;
      const status = statuses.get(e.id);
      if (!status || status === 'COMPLETED') continue;
      if (e.closedBy === 'rep') track.set(key, e.id);
      else forget.push(key);
    }
    if (track.size === 0 && forget.length === 0) continue;
    await ctx.taskMap.setIds(portalId, dealId, track);
    await ctx.taskMap.remove(portalId, dealId, forget);
    for (const [key, id] of track) m.set(key, { state: 'mapped', id, closed: false });
    for (const key of forget) m.delete(key);
    ctx.logger?.debug?.(
      { portalId, dealId, tracked: track.size, released: forget.length },
      'task reopened in HubSpot after it was closed',
    );
  }
}

/**
 * The snapshot's view of a deal's task map. Closed tasks (by Stagekeeper or a rep) are not read for themselves;
 * a reopen is noticed when the deal's open tasks are read anyway (noticeReopened). `assume`: open ones are
 * taken as open, unread, and listed in `unread` for a later read if a decision depends on them.
 */
export function snapshotTasks(
  entries: Map<string, MapEntry> | undefined,
  assume: boolean,
  statuses: Map<string, string>,
): { tasks: DealSnapshot['tasks']; unread: string[] } {
  const tasks: Record<string, DealSnapshot['tasks'][string]> = {};
  const unread: string[] = [];
  for (const [key, entry] of entries ?? []) {
    if (entry.state !== 'mapped') continue;
    if (entry.closed) tasks[key] = 'COMPLETED';
    else if (assume) {
      tasks[key] = 'NOT_STARTED';
      unread.push(key);
    } else {
      const s = statuses.get(entry.id);
      if (s) tasks[key] = s as DealSnapshot['tasks'][string];
    }
  }
  return { tasks, unread };
}
