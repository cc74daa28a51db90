import type { HubSpotGateway } from '../ports';
import type { DealStateStore } from '../state/deal-state-store';
import type { SweepCursorStore } from '../state/sweep-cursor';
import type { ReconcileQueue } from './reconcile';

/** SSCAN's page hint while the audit walks the tracked set. */
const SCAN_PAGE = 200;
/**
 * Ids read from the tracked set per open deal wanted, at most. Closed deals (won, lost, gone) are skipped, and a
 * portal's set fills with them over the years: without a bound one sweep would read all of it.
 */
const SCAN_BUDGET = 5;

export type TrackedDealAuditDeps = {
  states: Pick<DealStateStore, 'trackedPage' | 'loadMany'>;
  cursors: Pick<SweepCursorStore, 'auditCursor' | 'setAuditCursor'>;
  gateway: Pick<HubSpotGateway, 'goneDeals'>;
  reconcile: Pick<ReconcileQueue, 'enqueue'>;
  /** Open deals checked per sweep and portal (0: the audit is off). */
  perSweep: number;
};

/** `roundDone`: the audit came to the end of the tracked set this time; the next sweep starts it again. */
export type TrackedDealAudit = { checked: number; gone: number; roundDone: boolean };

/** An audit that checked nothing (off, or waiting for the tracked set). */
export const NO_AUDIT: Readonly<TrackedDealAudit> = { checked: 0, gone: 0, roundDone: false };

/**
 * Finds the deals deleted (or merged away) in HubSpot whose webhooks were all lost. No other path finds them: the
 * sweep's search sees live deals only, and a deal's next SLA timer may be days away, its open task in a rep's
 * queue meanwhile. Each sweep takes the next open deals of the portal's tracked set (`perSweep` of them, from
 * where the last sweep stopped), asks HubSpot which of them it no longer has (one batch read per 100) and
 * requests a reconcile of those: the reconcile reads the deal as every reconcile does, finds it gone, closes its
 * tasks and cancels its timers. Deals whose state is closed are skipped: nothing of theirs is open.
 * At the default 1,000 a sweep and a sweep every 5 minutes, 12,000 open deals an hour for 10 calls a sweep.
 */
export async function auditTrackedDeals(
  deps: TrackedDealAuditDeps,
  portalId: string,
): Promise<TrackedDealAudit> {
  if (deps.perSweep <= 0) return NO_AUDIT;
  let cursor = await deps.cursors.auditCursor(portalId);
  const open = new Set<string>();
  let read = 0;
  let roundDone = false;
  while (open.size < deps.perSweep && read < deps.perSweep * SCAN_BUDGET) {
    const page = await deps.states.trackedPage(portalId, cursor, SCAN_PAGE);
    // The set is being completed (after a start or a data loss; the full sweep then reads every deal anyway).
    if (!page) return NO_AUDIT;
    cursor = page.cursor;
    read += page.ids.length;
    const loaded = await deps.states.loadMany(portalId, page.ids);
    page.ids.forEach((id, i) => {
      if (loaded[i]?.state?.closedReason === null) open.add(id);
    });
    if (cursor === '0') {
      roundDone = true;
      break;
    }
  }
  const gone = open.size > 0 ? await deps.gateway.goneDeals(portalId, [...open]) : [];
  // Requested before the cursor moves on: a crash in between checks these deals again instead of skipping them.
  if (gone.length > 0) await deps.reconcile.enqueue(portalId, gone, 'sweep');
  await deps.cursors.setAuditCursor(portalId, cursor);
  return { checked: open.size, gone: gone.length, roundDone };
}
