import { Queue, type ConnectionOptions, type Worker } from 'bullmq';
import { z } from 'zod';
import {
  ASSUME_OPEN,
  createDecider,
  firstReadProperties,
  mergedIds,
  needsClosing,
  type DealOutcome,
  type DecideDeps,
} from '../decide';
import type { DealSnapshot } from '@stagekeeper/shared';
import { errorSummary, portalLogger } from '../log';
import { DURABLE_JOB_OPTIONS, QUEUE_NAMES, QUEUE_STREAMS, reconcileDedupId, reconcileJobId } from './job-ids';
import { runWorker, type WorkerConnection } from './run-worker';

/** HubSpot batch reads take at most 100 ids. */
const SNAPSHOT_BATCH = 100;

export const ReconcileJobData = z.object({
  portalId: z.string().regex(/^\d+$/),
  dealId: z.string().regex(/^\d+$/),
  source: z.enum(['webhook', 'sweep', 'manual']),
});
export type ReconcileJobData = z.infer<typeof ReconcileJobData>;

export type EnqueueResult = { added: number; coalesced: number };

/**
 * "Deal X changed" requests, coalesced per deal:
 * - the first request creates a run delayed by the debounce window;
 * - requests while that run waits are absorbed into it (same deduplication id);
 * - a request while the run is ACTIVE is parked by BullMQ (`keepLastIfActive`) and becomes exactly one
 *   follow-up run when the active one finishes, so a change made mid-run is never lost;
 * so at most one run per deal waits and one runs, and two runs for one deal never overlap.
 */
export class ReconcileQueue {
  readonly queue: Queue<ReconcileJobData>;

  constructor(
    connection: ConnectionOptions,
    bullPrefix: string,
    private readonly debounceMs: number,
  ) {
    this.queue = new Queue<ReconcileJobData>(QUEUE_NAMES.reconcile, {
      connection,
      prefix: bullPrefix,
      // Run ids are unique, so failed runs kept for inspection never collide with new ones.
      defaultJobOptions: DURABLE_JOB_OPTIONS,
      streams: QUEUE_STREAMS,
    });
  }

  async enqueue(
    portalId: string,
    dealIds: Iterable<string>,
    source: ReconcileJobData['source'],
  ): Promise<EnqueueResult> {
    const unique = [...new Set(dealIds)];
    if (unique.length === 0) return { added: 0, coalesced: 0 };
    const requested = unique.map((dealId) => ({
      name: 'reconcile',
      data: { portalId, dealId, source },
      opts: {
        jobId: reconcileJobId(portalId, dealId),
        delay: this.debounceMs,
        deduplication: { id: reconcileDedupId(portalId, dealId), keepLastIfActive: true },
      },
    }));
    // One deal (a single move's webhook) with `add`: addBulk builds a pipeline, which on the shared connection costs
    // ~135 µs more CPU than the script call itself (ioredis copies BullMQ's ~50 scripts into each pipeline).
    const jobs =
      requested.length === 1
        ? [await this.queue.add(requested[0]!.name, requested[0]!.data, requested[0]!.opts)]
        : await this.queue.addBulk(requested);
    // BullMQ hands back the existing job's id when a request was absorbed.
    const added = jobs.filter((job, i) => job.id === requested[i]!.opts.jobId).length;
    return { added, coalesced: unique.length - added };
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}

export class DealProcessingError extends Error {
  constructor(
    readonly portalId: string,
    readonly failures: { dealId: string; error: unknown }[],
  ) {
    super(
      `${failures.length} deal(s) failed in portal ${portalId}: ${failures.map((f) => f.dealId).join(', ')}`,
    );
    this.name = 'DealProcessingError';
  }
}

/**
 * The reconcile worker's job: each deal read (states and snapshots in batches) and brought to the decision
 * `engine.reconcile` makes on what HubSpot has now. One failing deal does not hold up the others; the job then
 * fails with every deal's error (DealProcessingError) so BullMQ retries it.
 */
export async function reconcileDeals(
  deps: DecideDeps,
  portalId: string,
  dealIds: string[],
): Promise<Map<string, DealOutcome>> {
  const decider = createDecider(deps);
  const log = portalLogger(deps.log, portalId);
  const outcomes = new Map<string, DealOutcome>();
  const unique = [...new Set(dealIds)];
  const playbook = await decider.playbookInForce(portalId, 'reconcile', log, { deals: unique.length });
  if (!playbook) {
    for (const id of unique) outcomes.set(id, 'no_playbook');
    return outcomes;
  }
  const firstRead = firstReadProperties(deps.engine.requiredProperties(playbook));
  const failures: { dealId: string; error: unknown }[] = [];
  const merged = new Set<string>();

  async function settleAll(ids: string[], onSettled: (snapshot?: DealSnapshot) => void) {
    for (let i = 0; i < ids.length; i += SNAPSHOT_BATCH) {
      const batch = ids.slice(i, i + SNAPSHOT_BATCH);
      const [states, snapshots] = await Promise.all([
        deps.states.loadMany(portalId, batch),
        deps.gateway.snapshots(portalId, batch, firstRead, ASSUME_OPEN),
      ]);
      for (const [j, dealId] of batch.entries()) {
        try {
          const { outcome } = await decider.settle(
            portalId,
            playbook!,
            dealId,
            { ...states[j]!, snapshot: snapshots.get(dealId) },
            (pb, state, snapshot, now, routing) =>
              deps.engine.reconcile({ playbook: pb, state, snapshot, now, routing }),
            log,
          );
          outcomes.set(dealId, outcome);
          onSettled(snapshots.get(dealId));
        } catch (error) {
          // One bad deal must not hold up the rest of the batch; the job still fails so BullMQ retries.
          failures.push({ dealId, error });
          log.error({ dealId, err: errorSummary(error) }, 'reconcile failed for deal');
        }
      }
    }
  }

  await settleAll(unique, (snapshot) => mergedIds(snapshot).forEach((id) => merged.add(id)));
  // Deals merged into these whose merge was never processed (a lost webhook, or state lost with Redis's data)
  // are reconciled here: their gone path closes the tasks the merge moved onto the survivor.
  const candidates = [...merged].filter((id) => !outcomes.has(id));
  if (candidates.length > 0) {
    const loaded = await deps.states.loadMany(portalId, candidates);
    const open = candidates.filter((_, i) => needsClosing(loaded[i]!));
    if (open.length > 0) {
      log.info({ dealIds: open }, 'merged-away deal(s) not closed yet; reconciling them with the survivor');
      await settleAll(open, () => undefined);
    }
  }
  if (failures.length > 0) throw new DealProcessingError(portalId, failures);
  return outcomes;
}

/** The reconcile worker: one job per deal (coalesced by ReconcileQueue), run by `reconcileDeals`. */
export function startReconcileWorker(deps: DecideDeps, w: WorkerConnection): Worker {
  return runWorker(
    QUEUE_NAMES.reconcile,
    ReconcileJobData,
    (data) => reconcileDeals(deps, data.portalId, [data.dealId]),
    w,
  );
}
