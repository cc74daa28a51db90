import type { Command, DealSnapshot } from '@stagekeeper/shared';

/**
 * The seam between the worker (queues, state, timers) and the HubSpot adapter. The worker never talks
 * HTTP; the adapter never decides anything.
 */
export interface HubSpotGateway {
  /**
   * Current state of deals, read with batch endpoints (at most 100 ids a call). `properties` are the ones the
   * playbook's criteria read plus HubSpot's own stage/owner fields; task statuses are read for the engine's
   * task keys already mapped to HubSpot task ids, unless `assume-open` asks to take open ones as open. A deal
   * HubSpot no longer has comes back with exists=false.
   */
  snapshots(
    portalId: string,
    dealIds: string[],
    properties: string[],
    options?: { taskStatuses?: 'read' | 'assume-open' },
  ): Promise<Map<string, DealSnapshot>>;

  /** Reads the statuses a snapshot taken with `assume-open` left unread (`unreadTasks`); one batch read. */
  readUnreadTasks(portalId: string, snapshot: DealSnapshot): Promise<DealSnapshot>;

  /**
   * Open (not completed) tasks the owner holds in HubSpot, all of them, not only Stagekeeper's: the capacity
   * evidence of a breach. Read only when a decision infers a breach reason (`needsOwnerLoad`). Optional so test
   * gateways without it leave capacity unknown.
   */
  ownerOpenTasks?(portalId: string, ownerId: string): Promise<number>;

  /**
   * Carries out the HubSpot-side commands for one deal (createTask, completeTask, cancelTask, setProperties,
   * moveStage, assignOwner, addNote), batching where HubSpot allows. Idempotent per command: a retried call
   * never creates a second task for the same key. Timer and history commands are ignored here.
   */
  apply(portalId: string, dealId: string, commands: Command[]): Promise<void>;

  /**
   * Maps the Stagekeeper tasks a deal already has in HubSpot (by their body marker) so a deal whose state is
   * unknown adopts them instead of getting duplicates; returns how many. Optional: test gateways may lack it.
   */
  adoptMarkedTasks?(portalId: string, dealId: string): Promise<number>;

  /**
   * The ones of these deals HubSpot no longer has under their id (deleted, or merged into another deal): one batch
   * read per 100 ids. For the sweep's audit of tracked deals, which finds deletions whose webhooks were lost.
   */
  goneDeals(portalId: string, dealIds: string[]): Promise<string[]>;

  /** Deal ids modified at or after `sinceMs` (CRM search on hs_lastmodifieddate), for the missed-webhook sweep. */
  modifiedSince(portalId: string, sinceMs: number): Promise<{ dealIds: string[]; newestMs: number }>;

  /**
   * Open (not completed) tasks each owner holds, for the "fewestOpenTasks" assignment policy: a CRM task search
   * for all of them at once. Optional: a gateway without it leaves such routing on round-robin.
   */
  openTaskCounts?(portalId: string, ownerIds: string[]): Promise<Record<string, number>>;
}
