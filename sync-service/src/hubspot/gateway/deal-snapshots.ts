import { MERGED_IDS_PROPERTY, parseMergedIds, type DealSnapshot } from '@stagekeeper/shared';
import type { BatchResult } from '../shared-batches';
import { chunk, notFoundIds, throwIfReadRefused } from './batching';
import type { GatewayContext, Row } from './context';
import { parseHubSpotTime } from './hubspot-time';
import { mapMergedAwayTasks, mapPendingCreates } from './pending-creates';
import { noticeReopened, readTaskStatuses, rememberCompleted, snapshotTasks } from './task-statuses';

/** Always read: the snapshot's own fields, the fallback for the stage clock, and merge attribution. */
const BASE_PROPERTIES = [
  'dealstage',
  'pipeline',
  'hubspot_owner_id',
  'hs_v2_date_entered_current_stage',
  MERGED_IDS_PROPERTY,
];

/**
 * `read` (default): statuses of the tasks Stagekeeper left open are read from HubSpot (one batch read).
 * `assume-open`: they are taken as open and listed in `unreadTasks`, for callers that read them only when a
 * decision depends on them (`readUnreadTasks`).
 */
export type SnapshotOptions = { taskStatuses?: 'read' | 'assume-open' };

/**
 * The deals as the engine sees them: one batch read per 100 deals, their mapped tasks' statuses, and the task
 * map brought up to date with what HubSpot holds (pending creates found, merged-away deals' tasks mapped,
 * reopens and rep completions noticed). A deleted or merged-away deal comes back with exists=false.
 */
export async function readSnapshots(
  ctx: GatewayContext,
  portalId: string,
  dealIds: string[],
  properties: string[],
  options: SnapshotOptions = {},
): Promise<Map<string, DealSnapshot>> {
  const ids = [...new Set(dealIds)];
  const wanted = [...new Set([...properties, ...BASE_PROPERTIES])];
  const out = new Map<string, DealSnapshot>();
  const rows = new Map<string, Row>();
  const gone = new Map<string, string | undefined>(); // deleted or merged-away id -> the survivor, if merged

  for (const part of chunk(ids)) {
    const { res, requested: asked } = await ctx.batches.read(portalId, 'deals', part, wanted);
    throwIfReadRefused(portalId, 'deals.batch.read', res.errors, part);
    const notFound = notFoundIds(res.errors);
    const requested = new Set(part);
    const strays: BatchResult['results'] = [];
    for (const r of res.results) {
      if (requested.has(r.id)) rows.set(r.id, r.properties);
      // Other deals' rows in a shared read are theirs, not merged-away survivors of ours.
      else if (!asked.has(r.id)) strays.push(r);
    }
    // Reading a merged-away id returns the surviving record under its own id (once, even when the survivor was
    // asked for too); hs_merged_object_ids says whose.
    const mergedInto = new Map<string, string>();
    for (const s of res.results)
      for (const m of parseMergedIds(s.properties[MERGED_IDS_PROPERTY]))
        if (requested.has(m) && !rows.has(m)) mergedInto.set(m, s.id);
    const unexplained = part.filter((id) => !rows.has(id) && !mergedInto.has(id) && !notFound.has(id));
    if (unexplained.length === 1 && strays.length === 1 && !mergedInto.size)
      mergedInto.set(unexplained[0]!, strays[0]!.id);

    for (const id of part) {
      if (rows.has(id)) continue;
      const into = mergedInto.get(id);
      gone.set(id, into);
      out.set(id, {
        dealId: id,
        exists: false,
        ...(into ? { mergedInto: into } : {}),
        pipeline: null,
        stage: null,
        ownerId: null,
        stageEnteredAt: null,
        properties: {},
        tasks: {},
      });
    }
  }

  await fillStageEntered(ctx, portalId, rows);

  // A gone deal's snapshot lists its mapped tasks too: a job that created them and died before saving state
  // left them owned by no visit, and the engine's gone path closes every open one it is shown.
  const maps = await ctx.taskMap.getMany(portalId, [...rows.keys(), ...gone.keys()]);
  await mapPendingCreates(ctx, portalId, maps, gone);
  await mapMergedAwayTasks(ctx, portalId, maps, gone);
  const assume = options.taskStatuses === 'assume-open';
  const statuses = assume ? new Map<string, string>() : await readTaskStatuses(ctx, portalId, maps);
  if (!assume) {
    await noticeReopened(ctx, portalId, maps, statuses);
    await rememberCompleted(ctx, portalId, maps, statuses);
  }

  for (const [id, props] of rows) {
    const value = (p: string) => {
      const v = props[p];
      return v === undefined || v === null || v === '' ? null : v;
    };
    const stage = value('dealstage');
    const stageEnteredAt =
      (stage ? parseHubSpotTime(value(`hs_v2_date_entered_${stage}`)) : null) ??
      parseHubSpotTime(value('hs_v2_date_entered_current_stage'));
    const { tasks, unread } = snapshotTasks(maps.get(id), assume, statuses);
    out.set(id, {
      dealId: id,
      exists: true,
      pipeline: value('pipeline'),
      stage,
      ownerId: value('hubspot_owner_id'),
      stageEnteredAt,
      properties: Object.fromEntries(properties.map((p) => [p, value(p)])),
      tasks,
      ...(unread.length ? { unreadTasks: unread } : {}),
    });
  }
  for (const id of gone.keys()) {
    const { tasks, unread } = snapshotTasks(maps.get(id), assume, statuses);
    if (Object.keys(tasks).length)
      out.set(id, { ...out.get(id)!, tasks, ...(unread.length ? { unreadTasks: unread } : {}) });
  }
  return out;
}

/** The snapshot with its unread tasks' statuses read from HubSpot (a deleted task drops out, as in a full read). */
export async function readUnreadTasks(
  ctx: GatewayContext,
  portalId: string,
  snapshot: DealSnapshot,
): Promise<DealSnapshot> {
  const unread = snapshot.unreadTasks ?? [];
  if (unread.length === 0) return snapshot;
  const entries = await ctx.taskMap.get(portalId, snapshot.dealId);
  const maps = new Map([
    [
      snapshot.dealId,
      new Map(unread.flatMap((k) => (entries.has(k) ? [[k, entries.get(k)!] as const] : []))),
    ],
  ]);
  const statuses = await readTaskStatuses(ctx, portalId, maps);
  await rememberCompleted(ctx, portalId, maps, statuses);
  const tasks = { ...snapshot.tasks };
  for (const key of unread) {
    const e = entries.get(key);
    const status = e?.state === 'mapped' ? (e.closed ? 'COMPLETED' : statuses.get(e.id)) : undefined;
    if (status) tasks[key] = status as DealSnapshot['tasks'][string];
    else delete tasks[key];
  }
  const { unreadTasks: _read, ...rest } = snapshot;
  return { ...rest, tasks };
}

/**
 * `hs_v2_date_entered_<stage>` can only be asked for once the stage is known. The current-stage copy normally
 * answers in the same read; only deals where neither came back cost one extra read for their stage's property.
 */
async function fillStageEntered(
  ctx: GatewayContext,
  portalId: string,
  rows: Map<string, Row>,
): Promise<void> {
  const missing = [...rows].filter(([, p]) => {
    const stage = p.dealstage;
    return (
      stage &&
      !p[`hs_v2_date_entered_${stage}`] &&
      !p.hs_v2_date_entered_current_stage &&
      !(`hs_v2_date_entered_${stage}` in p)
    );
  });
  if (missing.length === 0) return;
  const props = [...new Set(missing.map(([, p]) => `hs_v2_date_entered_${p.dealstage}`))];
  for (const part of chunk(missing.map(([id]) => id))) {
    const { res } = await ctx.batches.read(portalId, 'deals', part, props);
    for (const r of res.results) {
      const row = rows.get(r.id);
      if (row) Object.assign(row, r.properties);
    }
  }
}
