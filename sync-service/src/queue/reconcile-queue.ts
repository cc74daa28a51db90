import { Queue, type ConnectionOptions } from 'bullmq';
import { z } from 'zod';
import { DURABLE_JOB_OPTIONS, QUEUE_NAMES, reconcileDedupId, reconcileJobId } from './job-ids';

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
    const jobs = await this.queue.addBulk(requested);
    // BullMQ hands back the existing job's id when a request was absorbed.
    const added = jobs.filter((job, i) => job.id === requested[i]!.opts.jobId).length;
    return { added, coalesced: unique.length - added };
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}
