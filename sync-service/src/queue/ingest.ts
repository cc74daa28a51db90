import { Queue, type ConnectionOptions, type Worker } from 'bullmq';
import { z } from 'zod';
import { errorSummary } from '../log';
import { ingestDeals } from '../metrics';
import { DURABLE_JOB_OPTIONS, QUEUE_NAMES, QUEUE_STREAMS } from './job-ids';
import type { EnqueueResult, ReconcileQueue } from './reconcile';
import { runWorker, type WorkerConnection } from './run-worker';

const Numeric = z.string().regex(/^\d+$/);

/**
 * One accepted webhook request: the deals it names, per portal (HubSpot sends one portal per request, but
 * nothing in the format promises it, and splitting one request into several jobs would cost round trips).
 */
export const IngestJobData = z.object({
  portals: z.array(z.object({ portalId: Numeric, dealIds: z.array(Numeric).min(1) })).min(1),
  /** When the request was acknowledged (service clock), for the install status' "last webhook". */
  receivedAt: z.number().int().nonnegative().optional(),
});
export type IngestJobData = z.infer<typeof IngestJobData>;

/**
 * The webhook endpoint's durable hand-off: one job per accepted request, written in one Redis round trip, so
 * the acknowledgement does not wait for the per-deal coalescing (one deduplicated delayed job per deal). The
 * ingest worker fans each job out into the reconcile queue.
 */
export class IngestQueue {
  readonly queue: Queue<IngestJobData>;

  constructor(connection: ConnectionOptions, bullPrefix: string) {
    this.queue = new Queue<IngestJobData>(QUEUE_NAMES.ingest, {
      connection,
      prefix: bullPrefix,
      // A Redis blip during the fan-out must not lose the request HubSpot was already told we have.
      defaultJobOptions: DURABLE_JOB_OPTIONS,
      streams: QUEUE_STREAMS,
    });
  }

  /** Resolves once Redis holds the job; rejects (the caller answers 503) when it cannot. */
  async add(data: IngestJobData): Promise<void> {
    await this.queue.add('ingest', data);
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}

/**
 * The ingest worker's job: one reconcile request per deal. Safe to run again after a partial failure, since
 * reconcile requests for a deal coalesce (and a reconcile run that happens twice decides the same thing).
 */
export async function fanOut(
  data: IngestJobData,
  reconcile: Pick<ReconcileQueue, 'enqueue'>,
): Promise<EnqueueResult> {
  const total: EnqueueResult = { added: 0, coalesced: 0 };
  for (const { portalId, dealIds } of data.portals) {
    const r = await reconcile.enqueue(portalId, dealIds, 'webhook');
    total.added += r.added;
    total.coalesced += r.coalesced;
  }
  return total;
}

/**
 * The ingest worker: fans each accepted request out into the reconcile queue, then records the portal's last
 * webhook (the settings page's status block).
 */
export function startIngestWorker(
  deps: {
    reconcile: Pick<ReconcileQueue, 'enqueue'>;
    activity?: { recordWebhook(portalId: string, at: number): Promise<void> };
  },
  w: WorkerConnection,
): Worker {
  return runWorker(
    QUEUE_NAMES.ingest,
    IngestJobData,
    async (data, job) => {
      const r = await fanOut(data, deps.reconcile);
      ingestDeals.inc({ outcome: 'enqueued' }, r.added);
      ingestDeals.inc({ outcome: 'coalesced' }, r.coalesced);
      // Recorded here rather than on the webhook's request path, which does one Redis write and nothing else.
      // Status only: a failure to record it must not make the fan-out run again.
      await Promise.all(
        data.portals.map(({ portalId }) =>
          deps.activity
            ?.recordWebhook(portalId, data.receivedAt ?? job.timestamp)
            .catch((err: unknown) => w.log.warn({ err: errorSummary(err) }, 'activity not recorded')),
        ),
      );
    },
    w,
  );
}
