import type { Redis } from 'ioredis';
import type { Client } from '@hubspot/api-client';
import type { AssociationSpecAssociationCategoryEnum } from '@hubspot/api-client/lib/codegen/crm/objects/tasks/index';
import type { FilterOperatorEnum } from '@hubspot/api-client/lib/codegen/crm/deals/index';
import type { Command, DealSnapshot } from '@stagekeeper/shared';
import type { HubSpotGateway } from '../ports';
import type { CallLogger, HubSpotCaller } from './call';
import { HubSpotRequestError, HubSpotUnavailableError } from './errors';
import { ObjectMap, type MapEntry } from './objectmap';
import { SharedBatches, type BatchResult } from './shared-batches';
import type { CoalesceOptions } from './coalesce';

/** HubSpot-defined association type ids (hubspot-api-facts §8). */
const TASK_TO_DEAL = 216;
const NOTE_TO_DEAL = 214;
const HUBSPOT_DEFINED = 'HUBSPOT_DEFINED' as AssociationSpecAssociationCategoryEnum;

const BATCH = 100;
const SEARCH_PAGE = 200;
/** Pages of open tasks read for the fewest-open-tasks routing (SEARCH_PAGE each). */
const OPEN_TASK_PAGES = 5;
/** How long an owner's open-task count read for a breach is reused (see ownerOpenTasks). */
const OWNER_LOAD_TTL_MS = 60_000;
/** HubSpot refuses to page a search past 10,000 results. */
const SEARCH_CAP = 10_000;

/** Always read: the snapshot's own fields, the fallback for the stage clock, and merge attribution. */
const BASE_PROPERTIES = [
  'dealstage',
  'pipeline',
  'hubspot_owner_id',
  'hs_v2_date_entered_current_stage',
  'hs_merged_object_ids',
];
const TASK_PROPERTIES = ['hs_task_status', 'hs_task_subject', 'hs_task_body'];
/** How long a write-ahead marker may belong to a create still under way (see `abandoned`). */
const PENDING_GRACE_MS = 10 * 60_000;
/** What alignOwners needs to know of an existing task. */
const OWNER_PROPERTIES = ['hubspot_owner_id', 'hs_task_status'];
const TASK_STATUSES = new Set(['NOT_STARTED', 'IN_PROGRESS', 'WAITING', 'DEFERRED', 'COMPLETED']);

/**
 * The line that ties a HubSpot task or note back to the engine key that created it. It lets a crashed create be
 * found again (recovery reads bodies of the deal's associated tasks) instead of being made twice.
 */
export const marker = (key: string) => `[stagekeeper:${key}]`;
const MARKER_RE = /\[stagekeeper:([^\]\s]+)\]/g;
const CANCELLED_PREFIX = '[Cancelled] ';

type CreateTask = Extract<Command, { type: 'createTask' }>;
/**
 * `read` (default): statuses of the tasks Stagekeeper left open are read from HubSpot (one batch read).
 * `assume-open`: they are taken as open and listed in `unreadTasks`, for callers that read them only when a
 * decision depends on them (`readUnreadTasks`).
 */
export type SnapshotOptions = { taskStatuses?: 'read' | 'assume-open' };
type TaskDetail = { status: string; subject: string; body: string; at: number };
type ObjectType = 'tasks' | 'notes';
type CreateItem = { key: string; properties: Record<string, string> };

export type HubSpotApiGatewayOptions = {
  caller: HubSpotCaller;
  redis: Redis;
  /** Redis key prefix (tests use their own). */
  prefix: string;
  logger?: CallLogger;
  now?: () => number;
  /** How long task subjects/bodies read by `snapshots` may be reused by the `apply` that follows. */
  taskDetailTtlMs?: number;
  /** How deals worked on at the same time share batch calls (coalesce.ts). */
  coalesce?: CoalesceOptions;
};

const chunk = <T>(items: T[], size = BATCH): T[][] => {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
};

/** HubSpot datetimes arrive as ISO strings in v3, but epoch-ms strings are accepted everywhere: read both. */
export function parseHubSpotTime(value: string | null | undefined): number | null {
  if (value === null || value === undefined || value === '') return null;
  if (/^\d+$/.test(value)) return Number(value);
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : ms;
}

/** Whether a batch error is about these ids; an error naming no ids may be anyone's. */
const concerns = (e: { context?: Record<string, string[]> }, ids: string[]) =>
  !e.context?.ids || e.context.ids.some((id) => ids.includes(id));

export class HubSpotApiGateway implements HubSpotGateway {
  private readonly tasks: ObjectMap;
  private readonly notes: ObjectMap;
  private readonly now: () => number;
  private readonly detailTtl: number;
  /**
   * Task text read by `snapshots`, reused by the `apply` right after it so cancelling a task needs no second read.
   * In memory only (never Redis, never logs): task bodies may mention patients.
   */
  private readonly details = new Map<string, TaskDetail>();
  /** Owner loads read in the last minute (and reads in flight), per portal and owner: see `ownerOpenTasks`. */
  private readonly loads = new Map<string, { at: number; count: Promise<number> }>();
  private readonly batches: SharedBatches;

  constructor(private readonly opts: HubSpotApiGatewayOptions) {
    this.batches = new SharedBatches(opts.caller, opts.coalesce);
    this.tasks = new ObjectMap(opts.redis, opts.prefix, 'taskmap');
    this.notes = new ObjectMap(opts.redis, opts.prefix, 'notemap');
    this.now = opts.now ?? Date.now;
    this.detailTtl = opts.taskDetailTtlMs ?? 30_000;
  }

  private call<T>(
    portalId: string,
    op: string,
    fn: (c: Client) => Promise<T>,
    idempotent = true,
  ): Promise<T> {
    return this.opts.caller.call(portalId, op, fn, { idempotent });
  }

  // -------------------------------------------------------------------------------------------------------
  // Reads

  async snapshots(
    portalId: string,
    dealIds: string[],
    properties: string[],
    options: SnapshotOptions = {},
  ): Promise<Map<string, DealSnapshot>> {
    const ids = [...new Set(dealIds)];
    const wanted = [...new Set([...properties, ...BASE_PROPERTIES])];
    const out = new Map<string, DealSnapshot>();
    const rows = new Map<string, Record<string, string | null>>();
    const gone = new Map<string, string | undefined>(); // deleted or merged-away id -> the survivor, if merged

    for (const part of chunk(ids)) {
      const { res, requested: asked } = await this.batches.read(portalId, 'deals', part, wanted);
      const notFound = new Set<string>();
      for (const e of res.errors ?? []) {
        if (e.category === 'OBJECT_NOT_FOUND') (e.context?.ids ?? []).forEach((id) => notFound.add(id));
        else if (concerns(e, part))
          throw new HubSpotRequestError({
            portalId,
            operation: 'deals.batch.read',
            status: 207,
            category: e.category,
            detail: 'partial batch read failure',
          });
      }
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
        for (const m of (s.properties.hs_merged_object_ids ?? '').split(';'))
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

    await this.fillStageEntered(portalId, rows);

    // A gone deal's snapshot lists its mapped tasks too: a job that created them and died before saving state
    // left them owned by no visit, and the engine's gone path closes every open one it is shown.
    const maps = await this.tasks.getMany(portalId, [...rows.keys(), ...gone.keys()]);
    await this.recoverPending(portalId, maps, gone);
    await this.mapFromSurvivors(portalId, maps, gone);
    const assume = options.taskStatuses === 'assume-open';
    const statuses = assume ? new Map<string, string>() : await this.readTaskStatuses(portalId, maps);
    if (!assume) {
      await this.noticeReopened(portalId, maps, statuses);
      await this.rememberCompleted(portalId, maps, statuses);
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
  async readUnreadTasks(portalId: string, snapshot: DealSnapshot): Promise<DealSnapshot> {
    const unread = snapshot.unreadTasks ?? [];
    if (unread.length === 0) return snapshot;
    const entries = await this.tasks.get(portalId, snapshot.dealId);
    const maps = new Map([
      [
        snapshot.dealId,
        new Map(unread.flatMap((k) => (entries.has(k) ? [[k, entries.get(k)!] as const] : []))),
      ],
    ]);
    const statuses = await this.readTaskStatuses(portalId, maps);
    await this.rememberCompleted(portalId, maps, statuses);
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
  private async fillStageEntered(
    portalId: string,
    rows: Map<string, Record<string, string | null>>,
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
      const { res } = await this.batches.read(portalId, 'deals', part, props);
      for (const r of res.results) {
        const row = rows.get(r.id);
        if (row) Object.assign(row, r.properties);
      }
    }
  }

  /**
   * A `pending` task key is a create whose answer never reached us (crash, lost response). The engine may not ask
   * for that key again (the deal moved on), so the task is looked up by its marker here and mapped: the engine
   * then sees it and closes it if its visit has ended. Costs reads only for deals that have pending keys.
   */
  private async recoverPending(
    portalId: string,
    maps: Map<string, Map<string, MapEntry>>,
    gone: ReadonlyMap<string, string | undefined> = new Map(),
  ): Promise<void> {
    for (const [dealId, m] of maps) {
      const pending = new Set([...m].filter(([, e]) => e.state === 'pending').map(([k]) => k));
      // A merged-away deal's tasks are all mapped from the survivor (mapFromSurvivors). A deleted deal has no
      // associations left to list: its pending keys stay as they are (a known gap: a create answer lost just
      // before a delete).
      if (pending.size === 0 || gone.has(dealId)) continue;
      const found = await this.recover(portalId, dealId, 'tasks', pending);
      // Not in HubSpot: that create never landed. Dropping the marker stops paying this lookup on every read;
      // a later createTask for the key simply creates it.
      await this.tasks.remove(
        portalId,
        dealId,
        [...pending].filter((k) => !found.has(k) && this.abandoned(m.get(k))),
      );
      await this.tasks.setIds(portalId, dealId, found);
      const fresh = await this.tasks.get(portalId, dealId);
      maps.set(dealId, fresh);
    }
  }

  /**
   * A snapshot is read outside the deal lock, so a pending create not found may still be on its way (the job
   * holding the lock waits for a rate-limit slot, or its request is in flight). Dropping its marker then would
   * let a retry of that job, killed after the create landed, create the task a second time (a duplicate the
   * chaos suite found). Only a marker older than any live attempt is taken as a create that never landed.
   */
  private abandoned(e: MapEntry | undefined): boolean {
    return e?.state === 'pending' && this.now() - e.since > PENDING_GRACE_MS;
  }

  /**
   * A merge moves the merged-away deal's tasks to the survivor. Every one carrying a key of the merged-away deal
   * (keys begin with their deal's id, so the survivor's own never match) is mapped for it, whatever its task map
   * held (a pending create, or nothing at all from a job that lost its write), so the gone path can close them
   * all. Two calls per merged-away deal read, which is rare: HubSpot sends nothing more about it after the merge.
   */
  private async mapFromSurvivors(
    portalId: string,
    maps: Map<string, Map<string, MapEntry>>,
    gone: ReadonlyMap<string, string | undefined>,
  ): Promise<void> {
    for (const [dealId, survivor] of gone) {
      if (survivor === undefined) continue;
      const m = maps.get(dealId) ?? new Map<string, MapEntry>();
      const found = await this.recover(portalId, survivor, 'tasks', 'all');
      const fresh = new Map(
        [...found].filter(([key]) => key.startsWith(`${dealId}:`) && m.get(key)?.state !== 'mapped'),
      );
      const pending = [...m]
        .filter(([key, e]) => e.state === 'pending' && !fresh.has(key) && this.abandoned(e))
        .map(([key]) => key);
      if (fresh.size === 0 && pending.length === 0) continue;
      await this.tasks.remove(portalId, dealId, pending); // not among the survivor's tasks: never created
      await this.tasks.setIds(portalId, dealId, fresh);
      maps.set(dealId, await this.tasks.get(portalId, dealId));
    }
  }

  /**
   * Tasks a rep completed are recorded as closed, so later reconciles of the deal skip reading them: that keeps
   * a typical transition at one read. A later reopen is noticed by noticeReopened.
   */
  private async rememberCompleted(
    portalId: string,
    maps: Map<string, Map<string, MapEntry>>,
    statuses: Map<string, string>,
  ): Promise<void> {
    for (const [dealId, m] of maps) {
      const done = new Map<string, string>();
      for (const [key, e] of m)
        if (e.state === 'mapped' && !e.closed && statuses.get(e.id) === 'COMPLETED') done.set(key, e.id);
      await this.tasks.markClosed(portalId, dealId, done, 'rep');
    }
  }

  /**
   * A closed task whose status read back as anything but COMPLETED was reopened by a rep. One a rep had
   * completed is tracked again (its gate or handover counts it open). One Stagekeeper closed belonged to a
   * visit that has ended (Stagekeeper closes tasks only when they stop applying): it becomes the rep's own,
   * forgotten here, so the engine neither counts it nor cancels it again. `maps` is updated in place.
   */
  private async noticeReopened(
    portalId: string,
    maps: Map<string, Map<string, MapEntry>>,
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
      await this.tasks.setIds(portalId, dealId, track);
      await this.tasks.remove(portalId, dealId, forget);
      for (const [key, id] of track) m.set(key, { state: 'mapped', id, closed: false });
      for (const key of forget) m.delete(key);
      this.opts.logger?.debug?.(
        { portalId, dealId, tracked: track.size, released: forget.length },
        'task reopened in HubSpot after it was closed',
      );
    }
  }

  /**
   * Status (and text, for a following cancel) of every open task Stagekeeper mapped for these deals. The closed
   * tasks of a deal that has open ones ride along in the same batch read (no extra call), so a reopen is seen.
   */
  private async readTaskStatuses(
    portalId: string,
    maps: Map<string, Map<string, MapEntry>>,
  ): Promise<Map<string, string>> {
    const ids = new Set<string>();
    for (const m of maps.values()) {
      const mapped = [...m.values()].filter(
        (e): e is Extract<MapEntry, { state: 'mapped' }> => e.state === 'mapped',
      );
      if (!mapped.some((e) => !e.closed)) continue;
      for (const e of mapped) ids.add(e.id);
    }
    const details = await this.readTasks(portalId, [...ids]);
    return new Map([...details].map(([id, d]) => [id, d.status]));
  }

  private async readTasks(portalId: string, taskIds: string[]): Promise<Map<string, TaskDetail>> {
    const out = new Map<string, TaskDetail>();
    for (const part of chunk(taskIds)) {
      const { res } = await this.batches.read(portalId, 'tasks', part, TASK_PROPERTIES);
      const mine = new Set(part);
      for (const e of res.errors ?? [])
        if (e.category !== 'OBJECT_NOT_FOUND' && concerns(e, part))
          throw new HubSpotRequestError({
            portalId,
            operation: 'tasks.batch.read',
            status: 207,
            category: e.category,
            detail: 'partial batch read failure',
          });
      for (const r of res.results) {
        if (!mine.has(r.id)) continue;
        const status = r.properties.hs_task_status ?? 'NOT_STARTED';
        const d: TaskDetail = {
          status: TASK_STATUSES.has(status) ? status : 'NOT_STARTED',
          subject: r.properties.hs_task_subject ?? '',
          body: r.properties.hs_task_body ?? '',
          at: this.now(),
        };
        out.set(r.id, d);
        this.remember(portalId, r.id, d);
      }
    }
    return out;
  }

  private remember(portalId: string, taskId: string, d: TaskDetail): void {
    const k = `${portalId}:${taskId}`;
    this.details.delete(k);
    this.details.set(k, d);
    // Bounded: oldest entries go first (Map keeps insertion order).
    while (this.details.size > 5_000) this.details.delete(this.details.keys().next().value!);
  }

  private recall(portalId: string, taskId: string): TaskDetail | undefined {
    const d = this.details.get(`${portalId}:${taskId}`);
    if (!d || this.now() - d.at > this.detailTtl) return undefined;
    return d;
  }

  /**
   * Breaches come in bursts (a deadline shared by many deals) and search is limited to 5 calls a second per
   * account, so one read per owner serves the breaches of the next minute: a load a minute old is evidence enough.
   */
  async ownerOpenTasks(portalId: string, ownerId: string): Promise<number> {
    const key = `${portalId}:${ownerId}`;
    const hit = this.loads.get(key);
    if (hit && this.now() - hit.at < OWNER_LOAD_TTL_MS) return hit.count;
    if (this.loads.size > 10_000) this.loads.clear();
    const count = this.searchOwnerOpenTasks(portalId, ownerId);
    this.loads.set(key, { at: this.now(), count });
    count.catch(() => this.loads.delete(key));
    return count;
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

  /** One page of the open (not COMPLETED) tasks matching an owner filter: the one search both task counts use. */
  private searchOpenTasks(
    portalId: string,
    owner: { propertyName: string; operator: FilterOperatorEnum; value?: string; values?: string[] },
    limit: number,
    after?: string,
  ) {
    return this.opts.caller.call(
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

  async modifiedSince(portalId: string, sinceMs: number): Promise<{ dealIds: string[]; newestMs: number }> {
    const seen = new Set<string>();
    let newestMs = sinceMs;
    let windowStart = sinceMs;
    for (;;) {
      let after: string | undefined;
      let offset = 0;
      let lastTs = windowStart;
      let exhausted = false;
      for (;;) {
        const page = await this.opts.caller.call(
          portalId,
          'deals.search',
          (c) =>
            c.crm.deals.searchApi.doSearch({
              filterGroups: [
                {
                  filters: [
                    {
                      propertyName: 'hs_lastmodifieddate',
                      operator: 'GTE' as FilterOperatorEnum,
                      value: String(windowStart),
                    },
                  ],
                },
              ],
              // The generated type says string[]; HubSpot's documented form is the object, which the client passes through.
              sorts: [{ propertyName: 'hs_lastmodifieddate', direction: 'ASCENDING' }] as unknown as string[],
              properties: ['hs_lastmodifieddate'],
              limit: SEARCH_PAGE,
              ...(after ? { after } : {}),
            }),
          { bucket: 'search' },
        );
        for (const r of page.results) {
          seen.add(r.id);
          const ts = parseHubSpotTime(r.properties.hs_lastmodifieddate);
          if (ts !== null) {
            lastTs = Math.max(lastTs, ts);
            newestMs = Math.max(newestMs, ts);
          }
        }
        offset += page.results.length;
        after = page.paging?.next?.after;
        if (!after || page.results.length === 0) {
          exhausted = true;
          break;
        }
        // The next page would cross the 10,000 cap: start a new query from the last timestamp seen instead.
        if (offset + SEARCH_PAGE > SEARCH_CAP) break;
      }
      if (exhausted) break;
      if (lastTs <= windowStart) {
        // 10,000 deals modified in the same millisecond: the window cannot move on; the next sweep starts here.
        this.opts.logger?.warn(
          { portalId, operation: 'deals.search', windowStart },
          'search window stuck at 10,000 results',
        );
        break;
      }
      // GTE on the last timestamp re-reads deals sharing it; `seen` removes the repeats.
      windowStart = lastTs;
    }
    return { dealIds: [...seen], newestMs };
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

  // -------------------------------------------------------------------------------------------------------
  // Writes

  async apply(portalId: string, dealId: string, commands: Command[]): Promise<void> {
    const creates = new Map<string, CreateTask>();
    const closes = new Map<string, { reason?: string }>();
    const notes = new Map<string, string>();
    const reschedules = new Map<string, number>();
    const dealProps: Record<string, string> = {};
    for (const c of commands) {
      switch (c.type) {
        case 'createTask':
          if (!creates.has(c.key)) creates.set(c.key, c);
          break;
        case 'completeTask':
          if (!closes.has(c.key)) closes.set(c.key, {});
          break;
        case 'cancelTask':
          closes.set(c.key, { reason: c.reason });
          break;
        case 'rescheduleTask':
          reschedules.set(c.key, c.dueAt);
          break;
        case 'setProperties':
          Object.assign(dealProps, c.properties);
          break;
        case 'moveStage':
          dealProps.dealstage = c.toStage;
          if (c.toPipeline) dealProps.pipeline = c.toPipeline;
          break;
        case 'assignOwner':
          dealProps.hubspot_owner_id = c.ownerId;
          break;
        case 'addNote':
          if (!notes.has(c.key)) notes.set(c.key, c.body);
          break;
        default:
          // Timers and history belong to the worker.
          break;
      }
    }

    const failures: HubSpotRequestError[] = [];
    const collect = async (work: () => Promise<void>) => {
      try {
        await work();
      } catch (err) {
        // Bad input in one part must not stop the others; anything else (limits, outages) stops the apply.
        if (err instanceof HubSpotRequestError && !err.notFound) failures.push(err);
        else throw err;
      }
    };

    if (creates.size) {
      await collect(() =>
        this.createObjects(
          portalId,
          dealId,
          'tasks',
          [...creates.values()].map((c) => ({ key: c.key, properties: this.taskProperties(c) })),
        ),
      );
    }
    if (closes.size) await collect(() => this.closeTasks(portalId, dealId, closes));
    for (const key of closes.keys()) reschedules.delete(key);
    if (reschedules.size) await collect(() => this.rescheduleTasks(portalId, dealId, reschedules));
    if (Object.keys(dealProps).length) await collect(() => this.updateDeal(portalId, dealId, dealProps));
    if (notes.size) {
      const ts = String(this.now());
      await collect(() =>
        this.createObjects(
          portalId,
          dealId,
          'notes',
          [...notes].map(([key, body]) => ({
            key,
            properties: { hs_timestamp: ts, hs_note_body: `${body}\n\n${marker(key)}` },
          })),
        ),
      );
    }
    if (failures.length) throw failures[0];
  }

  private taskProperties(c: CreateTask): Record<string, string> {
    const p: Record<string, string> = {
      hs_timestamp: String(c.dueAt),
      hs_task_subject: c.subject,
      hs_task_body: `${c.body}\n\n${marker(c.key)}`,
      hs_task_status: 'NOT_STARTED',
      hs_task_priority: c.priority,
      hs_task_type: c.taskType,
    };
    if (c.ownerId) p.hubspot_owner_id = c.ownerId;
    return p;
  }

  /**
   * Creates each keyed object at most once. Write-ahead `pending` markers are set before the request; a pending
   * key found later (crash, or an answer lost to a 5xx) is looked for among the deal's associated objects by its
   * marker before anything is created again.
   */
  private async createObjects(
    portalId: string,
    dealId: string,
    type: ObjectType,
    items: CreateItem[],
  ): Promise<void> {
    const map = type === 'tasks' ? this.tasks : this.notes;
    const entries = await map.get(portalId, dealId);
    let todo = items.filter((i) => entries.get(i.key)?.state !== 'mapped');
    const pending = todo.filter((i) => entries.get(i.key)?.state === 'pending').map((i) => i.key);
    const read = new Map<string, Record<string, string | null>>(); // what recovery read of the tasks it found
    if (pending.length) todo = await this.recoverInto(portalId, dealId, type, todo, pending, read);
    if (type === 'tasks' && todo.length < items.length)
      await this.alignOwners(
        portalId,
        dealId,
        items.filter((i) => !todo.includes(i)),
        read,
      );
    if (todo.length === 0) return;

    await map.markPending(
      portalId,
      dealId,
      todo.map((i) => i.key),
      this.now(),
    );
    const rounds = this.opts.caller.policy.maxAttempts;
    for (let round = 1; ; round++) {
      try {
        await this.createBatches(portalId, dealId, type, todo);
        return;
      } catch (err) {
        // Same budget and backoff as any other 5xx, but each retry first looks for what the lost attempt created.
        if (err instanceof HubSpotUnavailableError && err.maybeApplied && round < rounds) {
          await this.opts.caller.pause(round);
          todo = await this.recoverInto(
            portalId,
            dealId,
            type,
            todo,
            todo.map((i) => i.key),
          );
          if (todo.length === 0) return;
          continue;
        }
        throw err;
      }
    }
  }

  /**
   * A create for a task that already exists was decided again: an earlier attempt created it and died before its
   * decision was saved. If the deal changed owner in between, the decision now in force gives the task to the new
   * owner, and no handoff will ever be made for a change the saved state never saw; so the open task is given to
   * the owner this decision names (a rep-completed one is left as it is). One read; writes only what differs.
   */
  private async alignOwners(
    portalId: string,
    dealId: string,
    items: CreateItem[],
    known: ReadonlyMap<string, Record<string, string | null>>,
  ): Promise<void> {
    const entries = await this.tasks.get(portalId, dealId);
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
      const { res } = await this.batches.read(portalId, 'tasks', part, OWNER_PROPERTIES);
      for (const r of res.results) current.set(r.id, r.properties);
    }
    const updates: Array<{ id: string; properties: Record<string, string> }> = [];
    for (const [id, props] of current) {
      const owner = wanted.get(id);
      if (owner && props.hs_task_status !== 'COMPLETED' && props.hubspot_owner_id !== owner)
        updates.push({ id, properties: { hubspot_owner_id: owner } });
    }
    for (const part of chunk(updates)) {
      const res = await this.batches.updateTasks(portalId, part);
      // A refused owner (deactivated) leaves the task where it was: not worth failing the deal's decision for.
      const rejected = (res.errors ?? []).filter((e) => e.category !== 'OBJECT_NOT_FOUND');
      if (rejected.length)
        this.opts.logger?.warn(
          { portalId, dealId, rejected: rejected.length },
          'task owner realignment refused',
        );
    }
    if (updates.length)
      this.opts.logger?.warn(
        { portalId, dealId, reassigned: updates.length },
        'tasks created by an unsaved attempt given to the owner decided now',
      );
  }

  /** Recovers ids for `keys` and returns the items still to create. */
  private async recoverInto(
    portalId: string,
    dealId: string,
    type: ObjectType,
    todo: CreateItem[],
    keys: string[],
    read?: Map<string, Record<string, string | null>>,
  ): Promise<CreateItem[]> {
    const found = await this.recover(portalId, dealId, type, new Set(keys), read);
    if (found.size) {
      await (type === 'tasks' ? this.tasks : this.notes).setIds(portalId, dealId, found);
      this.opts.logger?.warn(
        { portalId, dealId, type, recovered: found.size },
        'recovered objects created before a crash',
      );
    }
    return todo.filter((i) => !found.has(i.key));
  }

  private async createBatches(
    portalId: string,
    dealId: string,
    type: ObjectType,
    todo: CreateItem[],
  ): Promise<void> {
    const map = type === 'tasks' ? this.tasks : this.notes;
    const typeId = type === 'tasks' ? TASK_TO_DEAL : NOTE_TO_DEAL;
    const bodyProp = type === 'tasks' ? 'hs_task_body' : 'hs_note_body';
    const parts = chunk(todo);
    for (let pi = 0; pi < parts.length; pi++) {
      const part = parts[pi]!;
      const inputs = part.map((i) => ({
        properties: i.properties,
        // Opts in to per-input results; also lets us match results to keys without trusting their order.
        objectWriteTraceId: i.key,
        associations: [
          {
            to: { id: dealId },
            types: [{ associationCategory: HUBSPOT_DEFINED, associationTypeId: typeId }],
          },
        ],
      }));
      let res: BatchResult;
      try {
        res = await this.batches.create(portalId, type, inputs);
      } catch (err) {
        const definite = !(err instanceof HubSpotUnavailableError && err.maybeApplied);
        // Nothing was created for this or later chunks: drop their write-ahead markers so no recovery read is paid.
        if (definite)
          await map.remove(
            portalId,
            dealId,
            parts
              .slice(pi)
              .flat()
              .map((i) => i.key),
          );
        if (err instanceof HubSpotRequestError && part.length > 1) {
          // One bad input fails the whole batch; retry one by one so the good ones are still created.
          await this.createOneByOne(portalId, dealId, type, parts.slice(pi).flat());
          return;
        }
        throw err;
      }
      await map.setIds(portalId, dealId, this.matchCreated(part, res, bodyProp));
      if (res.errors?.length) {
        const e = res.errors[0]!;
        throw new HubSpotRequestError({
          portalId,
          operation: `${type}.batch.create`,
          status: 207,
          category: e.category,
          detail: `${res.errors.length} input(s) rejected`,
        });
      }
    }
  }

  private async createOneByOne(
    portalId: string,
    dealId: string,
    type: ObjectType,
    items: CreateItem[],
  ): Promise<void> {
    let first: HubSpotRequestError | undefined;
    for (const item of items) {
      try {
        await this.createObjects(portalId, dealId, type, [item]);
      } catch (err) {
        if (!(err instanceof HubSpotRequestError)) throw err;
        if (
          type === 'tasks' &&
          err.properties.includes('hubspot_owner_id') &&
          item.properties.hubspot_owner_id
        ) {
          // A deactivated owner should not cost the deal its task: create it unassigned and say so.
          const { hubspot_owner_id: _drop, ...rest } = item.properties;
          this.opts.logger?.warn(
            { portalId, dealId, key: item.key },
            'task owner rejected; creating the task unassigned',
          );
          await this.createObjects(portalId, dealId, type, [{ key: item.key, properties: rest }]);
        }
        first ??= err;
      }
    }
    if (first) throw first;
  }

  private matchCreated(part: CreateItem[], res: BatchResult, bodyProp: string): Map<string, string> {
    const keys = new Set(part.map((i) => i.key));
    const ids = new Map<string, string>();
    for (const r of res.results) {
      const byTrace =
        r.objectWriteTraceId && keys.has(r.objectWriteTraceId) ? r.objectWriteTraceId : undefined;
      const byMarker = [...(r.properties[bodyProp] ?? '').matchAll(MARKER_RE)]
        .map((m) => m[1]!)
        .find((k) => keys.has(k));
      const key = byTrace ?? byMarker;
      if (key && !ids.has(key)) ids.set(key, r.id);
    }
    // Anything left unmatched stays `pending` and is found by recovery on the next apply.
    return ids;
  }

  /**
   * Maps every Stagekeeper task the deal already has in HubSpot (found by its `[stagekeeper:<key>]` marker) into
   * the task map, for a deal whose state is unknown (first seen, or Redis lost its data): the engine then adopts
   * the current visit's tasks instead of creating them again, and cancels the open ones of ended visits.
   * One association listing (plus a body read when there are tasks). Returns how many were mapped.
   */
  async adoptMarkedTasks(portalId: string, dealId: string): Promise<number> {
    const found = await this.recover(portalId, dealId, 'tasks', 'all');
    const known = await this.tasks.get(portalId, dealId);
    const fresh = new Map([...found].filter(([key]) => known.get(key)?.state !== 'mapped'));
    if (fresh.size) await this.tasks.setIds(portalId, dealId, fresh);
    return fresh.size;
  }

  /**
   * Lists the deal's associated tasks/notes and finds the ones carrying our markers (`all`: any marker). `read`
   * collects each found task's owner and status, read in the same call, for alignOwners.
   */
  private async recover(
    portalId: string,
    dealId: string,
    type: ObjectType,
    keys: Set<string> | 'all',
    read?: Map<string, Record<string, string | null>>,
  ): Promise<Map<string, string>> {
    const ids: string[] = [];
    let after: string | undefined;
    do {
      const page = await this.call(portalId, `associations.${type}.list`, (c) =>
        c.crm.associations.v4.basicApi.getPage('deals', dealId, type, after, 500),
      );
      page.results.forEach((r) => ids.push(String(r.toObjectId)));
      after = page.paging?.next?.after;
    } while (after);

    const found = new Map<string, string>();
    const bodyProp = type === 'tasks' ? 'hs_task_body' : 'hs_note_body';
    // Oldest first, so if a duplicate slipped through earlier the original keeps the mapping.
    ids.sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0));
    for (const part of chunk(ids)) {
      const { res } = await this.batches.read(
        portalId,
        type,
        part,
        type === 'tasks' ? [bodyProp, ...OWNER_PROPERTIES] : [bodyProp],
      );
      const byId = new Map(res.results.map((r) => [r.id, r]));
      for (const id of part) {
        const body = byId.get(id)?.properties[bodyProp] ?? '';
        for (const m of body.matchAll(MARKER_RE))
          if ((keys === 'all' || keys.has(m[1]!)) && !found.has(m[1]!)) {
            found.set(m[1]!, id);
            if (type === 'tasks') read?.set(id, byId.get(id)!.properties);
          }
      }
    }
    return found;
  }

  /**
   * Moves the due time of open mapped tasks. A task a rep completed or deleted is left alone; a task created in
   * this same apply already carries the new due time.
   */
  private async rescheduleTasks(portalId: string, dealId: string, dues: Map<string, number>): Promise<void> {
    const entries = await this.tasks.get(portalId, dealId);
    const inputs: Array<{ id: string; properties: Record<string, string> }> = [];
    for (const [key, dueAt] of dues) {
      const e = entries.get(key);
      if (e?.state === 'mapped' && !e.closed)
        inputs.push({ id: e.id, properties: { hs_timestamp: String(dueAt) } });
    }
    for (const part of chunk(inputs)) {
      const res = await this.batches.updateTasks(portalId, part);
      const rejected = (res.errors ?? []).filter((e) => e.category !== 'OBJECT_NOT_FOUND');
      if (rejected.length)
        throw new HubSpotRequestError({
          portalId,
          operation: 'tasks.batch.update',
          status: 207,
          category: rejected[0]!.category,
          detail: `${rejected.length} reschedule(s) rejected`,
        });
    }
  }

  /**
   * completeTask and cancelTask. HubSpot tasks have no "cancelled" status (only NOT_STARTED … COMPLETED), so a
   * cancelled task is closed as COMPLETED with its subject prefixed and the reason appended, which keeps it off
   * the rep's open list while its history stays readable.
   */
  private async closeTasks(
    portalId: string,
    dealId: string,
    closes: Map<string, { reason?: string }>,
  ): Promise<void> {
    let entries = await this.tasks.get(portalId, dealId);
    const pending = [...closes.keys()].filter((k) => entries.get(k)?.state === 'pending');
    if (pending.length) {
      const found = await this.recover(portalId, dealId, 'tasks', new Set(pending));
      await this.tasks.setIds(portalId, dealId, found);
      entries = await this.tasks.get(portalId, dealId);
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
      const d = this.recall(portalId, id);
      if (d) details.set(id, d);
      else if (closes.get(key)!.reason === undefined) blind.add(id);
      else unknown.push(id);
    }
    if (unknown.length) for (const [id, d] of await this.readTasks(portalId, unknown)) details.set(id, d);

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
      const properties: Record<string, string> = { hs_task_status: 'COMPLETED' };
      if (reason !== undefined) {
        properties.hs_task_subject = d.subject.startsWith(CANCELLED_PREFIX)
          ? d.subject
          : `${CANCELLED_PREFIX}${d.subject}`;
        properties.hs_task_body = `${d.body}\n\nCancelled by Stagekeeper: ${reason}`;
      }
      updates.push({ key, id, properties });
    }
    await this.tasks.remove(portalId, dealId, gone);
    await this.tasks.markClosed(portalId, dealId, alreadyDone, 'rep');

    for (const part of chunk(updates)) {
      const res = await this.batches.updateTasks(
        portalId,
        part.map((u) => ({ id: u.id, properties: u.properties })),
      );
      const ok = new Set(res.results.map((r) => r.id));
      await this.tasks.markClosed(
        portalId,
        dealId,
        new Map(part.filter((u) => ok.has(u.id)).map((u) => [u.key, u.id])),
      );
      for (const u of part) this.details.delete(`${portalId}:${u.id}`);
      const missing = new Set(
        (res.errors ?? [])
          .filter((e) => e.category === 'OBJECT_NOT_FOUND')
          .flatMap((e) => e.context?.ids ?? []),
      );
      // Deleted in HubSpot since we mapped it: nothing left to close.
      await this.tasks.remove(
        portalId,
        dealId,
        part.filter((u) => missing.has(u.id) && !ok.has(u.id)).map((u) => u.key),
      );
      const rejected = (res.errors ?? []).filter((e) => e.category !== 'OBJECT_NOT_FOUND');
      if (rejected.length)
        throw new HubSpotRequestError({
          portalId,
          operation: 'tasks.batch.update',
          status: 207,
          category: rejected[0]!.category,
          detail: `${rejected.length} update(s) rejected`,
        });
    }
  }

  /**
   * One PATCH for every deal property of the apply (written-back fields, stage move, owner). If HubSpot rejects
   * some properties by name, the rest are still written before the error is raised, so one stale enum option
   * cannot block a gate revert.
   */
  private async updateDeal(portalId: string, dealId: string, props: Record<string, string>): Promise<void> {
    try {
      await this.batches.updateDeal(portalId, dealId, props);
    } catch (err) {
      if (!(err instanceof HubSpotRequestError) || err.status !== 400 || err.properties.length === 0)
        throw err;
      const rest = Object.fromEntries(Object.entries(props).filter(([k]) => !err.properties.includes(k)));
      if (Object.keys(rest).length && Object.keys(rest).length < Object.keys(props).length)
        await this.batches.updateDeal(portalId, dealId, rest);
      throw err;
    }
  }
}

/**
 * The snapshot's view of a deal's task map. Closed tasks (by Stagekeeper or a rep) are not read for themselves;
 * a reopen is noticed when the deal's open tasks are read anyway (noticeReopened). `assume`: open ones are
 * taken as open, unread, and listed in `unread` for a later read if a decision depends on them.
 */
function snapshotTasks(
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
