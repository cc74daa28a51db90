import type { Redis } from 'ioredis';
import type { Command, DealSnapshot } from '@stagekeeper/shared';
import type { HubSpotGateway } from '../ports';
import type { CallLogger, HubSpotCaller } from './call';
import type { CoalesceOptions } from './coalesce';
import { HubSpotRequestError } from './errors';
import { ObjectMap } from './objectmap';
import { SharedBatches } from './shared-batches';
import { groupCommands } from './gateway/command-groups';
import type { GatewayContext } from './gateway/context';
import { readSnapshots, readUnreadTasks, type SnapshotOptions } from './gateway/deal-snapshots';
import { goneDeals } from './gateway/deal-existence';
import { modifiedSince } from './gateway/deal-search';
import { updateDeal } from './gateway/deal-update';
import { createKeyed, noteCreate, taskCreate } from './gateway/keyed-creates';
import { adoptMarkedTasks } from './gateway/marked-objects';
import { OpenTaskSearch } from './gateway/open-task-search';
import { closeTasks } from './gateway/task-closing';
import { TaskDetails } from './gateway/task-details';
import { rescheduleTasks } from './gateway/task-rescheduling';

export { parseHubSpotTime } from './gateway/hubspot-time';
export { marker } from './gateway/marked-objects';
export type { SnapshotOptions } from './gateway/deal-snapshots';

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

/**
 * The engine's port to HubSpot (ports.ts `HubSpotGateway`). It wires the parts in gateway/ once and says in
 * which order a decision's commands are carried out; each part holds one concern (snapshots, task details,
 * search, keyed creates, closing, owners).
 */
export class HubSpotApiGateway implements HubSpotGateway {
  private readonly ctx: GatewayContext;
  private readonly openTasks: OpenTaskSearch;

  constructor(opts: HubSpotApiGatewayOptions) {
    const now = opts.now ?? Date.now;
    const batches = new SharedBatches(opts.caller, opts.coalesce);
    this.ctx = {
      caller: opts.caller,
      batches,
      taskMap: new ObjectMap(opts.redis, opts.prefix, 'taskmap'),
      noteMap: new ObjectMap(opts.redis, opts.prefix, 'notemap'),
      details: new TaskDetails(batches, now, opts.taskDetailTtlMs ?? 30_000),
      now,
      logger: opts.logger,
    };
    this.openTasks = new OpenTaskSearch(opts.caller, now);
  }

  snapshots(
    portalId: string,
    dealIds: string[],
    properties: string[],
    options: SnapshotOptions = {},
  ): Promise<Map<string, DealSnapshot>> {
    return readSnapshots(this.ctx, portalId, dealIds, properties, options);
  }

  readUnreadTasks(portalId: string, snapshot: DealSnapshot): Promise<DealSnapshot> {
    return readUnreadTasks(this.ctx, portalId, snapshot);
  }

  ownerOpenTasks(portalId: string, ownerId: string): Promise<number> {
    return this.openTasks.ownerOpenTasks(portalId, ownerId);
  }

  openTaskCounts(portalId: string, ownerIds: string[]): Promise<Record<string, number>> {
    return this.openTasks.openTaskCounts(portalId, ownerIds);
  }

  modifiedSince(portalId: string, sinceMs: number): Promise<{ dealIds: string[]; newestMs: number }> {
    return modifiedSince(this.ctx, portalId, sinceMs);
  }

  goneDeals(portalId: string, dealIds: string[]): Promise<string[]> {
    return goneDeals(this.ctx, portalId, dealIds);
  }

  adoptMarkedTasks(portalId: string, dealId: string): Promise<number> {
    return adoptMarkedTasks(this.ctx, portalId, dealId);
  }

  /**
   * In a fixed order: task creates, closes, due-time moves, the deal PATCH, notes. Creates come first so a task
   * one decision both creates and closes exists when it is closed. One group's rejected input does not stop
   * the others.
   */
  async apply(portalId: string, dealId: string, commands: Command[]): Promise<void> {
    const { creates, closes, reschedules, dealProps, notes } = groupCommands(commands);
    const ctx = this.ctx;
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

    // Read once for the creates and the closes (kept up to date by the creates' own writes).
    const tasks = creates.size || closes.size ? await ctx.taskMap.get(portalId, dealId) : undefined;
    if (creates.size)
      await collect(() =>
        createKeyed(ctx, portalId, dealId, 'tasks', [...creates.values()].map(taskCreate), tasks),
      );
    if (closes.size) await collect(() => closeTasks(ctx, portalId, dealId, closes, tasks));
    if (reschedules.size) await collect(() => rescheduleTasks(ctx, portalId, dealId, reschedules));
    if (Object.keys(dealProps).length) await collect(() => updateDeal(ctx, portalId, dealId, dealProps));
    if (notes.size) {
      const at = ctx.now();
      await collect(() =>
        createKeyed(
          ctx,
          portalId,
          dealId,
          'notes',
          [...notes].map(([key, body]) => noteCreate(key, body, at)),
        ),
      );
    }
    if (failures.length) throw failures[0];
  }
}
