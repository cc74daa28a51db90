import { Queue, type ConnectionOptions, type Worker } from 'bullmq';
import type { Logger } from '../log';
import { portalLogger } from '../log';
import type { HubSpotGateway } from '../ports';
import type { PlaybookSource } from '../state/playbook-store';
import type { SweepCursorStore } from '../state/sweep-cursor';
import { QUEUE_NAMES, QUEUE_STREAMS } from './job-ids';
import type { ReconcileQueue } from './reconcile';
import { runWorker, type WorkerConnection } from './run-worker';
import { auditTrackedDeals, NO_AUDIT, type TrackedDealAuditDeps } from './tracked-deal-audit';

export const SWEEP_SCHEDULER_ID = 'sweep:modified-deals';

export type SweepDeps = {
  gateway: HubSpotGateway;
  playbooks: Pick<PlaybookSource, 'portals'>;
  cursors: SweepCursorStore;
  reconcile: Pick<ReconcileQueue, 'enqueue'>;
  log: Logger;
  clock?: () => number;
  /**
   * Each sweep looks this far behind its cursor: CRM search indexes a change some seconds after it happens,
   * so a deal modified just before the cursor's deal may only show up on the next sweep.
   */
  overlapMs?: number;
  /** Where a portal's first sweep starts (there is no cursor yet). */
  initialLookbackMs?: number;
  /** The audit of tracked deals (deletions whose webhooks were lost); none without it. */
  audit?: Pick<TrackedDealAuditDeps, 'states' | 'perSweep'>;
};

export type SweepReport = {
  portalId: string;
  since: number;
  found: number;
  cursor: number;
  /** Open tracked deals the audit checked, and those HubSpot no longer has (each now reconciled). */
  audited: number;
  gone: number;
}[];

/**
 * Recovers missed webhooks: deals modified since the cursor are reconciled (coalescing with any webhook runs),
 * then the cursor moves to the newest modification seen. A failure leaves the cursor where it was, so the
 * next sweep covers the same window again. Then the audit of tracked deals (tracked-deal-audit.ts) finds deletions
 * the search cannot: a deleted deal is modified nowhere.
 */
export async function runSweep(deps: SweepDeps): Promise<SweepReport> {
  const clock = deps.clock ?? Date.now;
  const overlap = deps.overlapMs ?? 2 * 60_000;
  const lookback = deps.initialLookbackMs ?? 60 * 60_000;
  const report: SweepReport = [];
  const failures: string[] = [];
  for (const portalId of await deps.playbooks.portals()) {
    const log = portalLogger(deps.log, portalId);
    try {
      const cursor = await deps.cursors.get(portalId);
      const since = cursor === null ? clock() - lookback : Math.max(0, cursor - overlap);
      const { dealIds, newestMs } = await deps.gateway.modifiedSince(portalId, since);
      const { added, coalesced } = await deps.reconcile.enqueue(portalId, dealIds, 'sweep');
      // Enqueue before advancing: a crash in between repeats work instead of skipping it.
      const next = await deps.cursors.advance(portalId, Math.max(newestMs, cursor ?? since));
      let audit = NO_AUDIT;
      if (deps.audit)
        try {
          audit = await auditTrackedDeals(
            { ...deps.audit, cursors: deps.cursors, gateway: deps.gateway, reconcile: deps.reconcile },
            portalId,
          );
        } catch (err) {
          // The search's window is done and its cursor moved on; only the audit's part is checked again.
          failures.push(portalId);
          log.error(
            { err: err instanceof Error ? { name: err.name } : undefined },
            'audit of tracked deals failed for portal; its cursor unchanged',
          );
        }
      log.info(
        {
          since,
          found: dealIds.length,
          added,
          coalesced,
          cursor: next,
          audited: audit.checked,
          gone: audit.gone,
          auditRoundDone: audit.roundDone,
        },
        'sweep done',
      );
      report.push({
        portalId,
        since,
        found: dealIds.length,
        cursor: next,
        audited: audit.checked,
        gone: audit.gone,
      });
    } catch (err) {
      failures.push(portalId);
      log.error(
        { err: err instanceof Error ? { name: err.name } : undefined },
        'sweep failed for portal; cursor unchanged',
      );
    }
  }
  if (failures.length > 0)
    throw new Error(`sweep failed for ${failures.length} portal(s): ${failures.join(', ')}`);
  return report;
}

/** The repeatable sweep job lives in its own queue so a long sweep never delays deal reconciles. */
export class SweepQueue {
  readonly queue: Queue;

  constructor(connection: ConnectionOptions, bullPrefix: string) {
    this.queue = new Queue(QUEUE_NAMES.sweep, {
      connection,
      prefix: bullPrefix,
      defaultJobOptions: { removeOnComplete: true, removeOnFail: { count: 100 }, attempts: 1 },
      streams: QUEUE_STREAMS,
    });
  }

  /** Idempotent across processes and restarts: the scheduler id is fixed, so N web nodes make one schedule. */
  async start(everyMs: number): Promise<void> {
    await this.queue.upsertJobScheduler(SWEEP_SCHEDULER_ID, { every: everyMs }, { name: 'sweep', data: {} });
  }

  /** One sweep now, besides the schedule (operators after an outage; tests after dropped webhooks). */
  async runOnce(): Promise<void> {
    await this.queue.add('sweep', {});
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}

/** The sweep worker: one sweep at a time, each finished portal recorded (the settings page's status block). */
export function startSweepWorker(
  deps: SweepDeps & { activity?: { recordSweep(portalId: string, at: number): Promise<void> } },
  w: WorkerConnection,
): Worker {
  const clock = deps.clock ?? Date.now;
  return runWorker(
    QUEUE_NAMES.sweep,
    null,
    async () => {
      const report = await runSweep(deps);
      await Promise.all(report.map((r) => deps.activity?.recordSweep(r.portalId, clock())));
      return report;
    },
    { ...w, concurrency: 1 },
  );
}
