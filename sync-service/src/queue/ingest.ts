import { Queue, type ConnectionOptions, type Worker } from 'bullmq';
import { z } from 'zod';
import { errorSummary } from '../log';
import { ingestDeals } from '../metrics';
import { ReasonEdit, type ApplyReasonEdit } from '../reasons/hubspot-edit';
import { DURABLE_JOB_OPTIONS, HubSpotIdString, QUEUE_NAMES, QUEUE_STREAMS } from './job-ids';
import type { ReplayClaim } from '../http/replay-store';
import type { EnqueueResult, ReconcileQueue } from './reconcile';
import { runWorker, type WorkerConnection } from './run-worker';

/**
 * One accepted webhook request: the deals it names, per portal (HubSpot sends one portal per request, but
 * nothing in the format promises it, and splitting one request into several jobs would cost round trips).
 */
export const IngestJobData = z
  .object({
    portals: z.array(z.object({ portalId: HubSpotIdString, dealIds: z.array(HubSpotIdString).min(1) })),
    /** People's edits of the written-back breach reason in HubSpot (reasons/hubspot-edit.ts); rare. */
    reasonEdits: z.array(ReasonEdit).optional(),
    /** When the request was acknowledged (service clock), for the install status' "last webhook". */
    receivedAt: z.number().int().nonnegative().optional(),
  })
  .refine((d) => d.portals.length > 0 || (d.reasonEdits?.length ?? 0) > 0, {
    message: 'expected deals or breach reason edits',
    path: ['portals'],
  });
export type IngestJobData = z.infer<typeof IngestJobData>;

/**
 * A small delivery's reconcile requests written on the request path itself (no ingest job): for a delivery
 * naming at most `maxDeals` deals, the acknowledgement waits for one script (ReconcileQueue.enqueueDelivery:
 * the replay claim, the requests and the portal's last webhook time) instead of a claim and an ingest add, and
 * the ingest job's own life in Redis (add, take, finish: ~55 commands inside BullMQ's scripts) and its worker's
 * CPU are saved. A single move in HubSpot arrives as such a delivery.
 */
export type InlineFanOut = { reconcile: Pick<ReconcileQueue, 'enqueueDelivery'>; maxDeals: number };

/** What became of an accepted request: an ingest job, reconcile requests, or nothing (its claim was taken before). */
export type Handoff = 'queued' | 'fanned-out' | 'replayed';

/** Deals a request names, across its portals. */
const dealCount = (data: IngestJobData) => data.portals.reduce((n, p) => n + p.dealIds.length, 0);

/**
 * The webhook endpoint's durable hand-off: one job per accepted request, written in one Redis round trip, so
 * the acknowledgement does not wait for the per-deal coalescing (one deduplicated delayed job per deal). The
 * ingest worker fans each job out into the reconcile queue. With `inline`, small deliveries are fanned out at
 * once instead (InlineFanOut); either way `add` resolves only once Redis holds the work.
 */
export class IngestQueue {
  readonly queue: Queue<IngestJobData>;

  constructor(
    connection: ConnectionOptions,
    bullPrefix: string,
    private readonly inline?: InlineFanOut,
  ) {
    this.queue = new Queue<IngestJobData>(QUEUE_NAMES.ingest, {
      connection,
      prefix: bullPrefix,
      // A Redis blip during the fan-out must not lose the request HubSpot was already told we have.
      defaultJobOptions: DURABLE_JOB_OPTIONS,
      streams: QUEUE_STREAMS,
    });
  }

  /**
   * Resolves once Redis holds the job (`queued`) or the deals' reconcile requests (`fanned-out`), or once
   * `claim` (the request's signature, http/replay-store.ts) turns out taken before (`replayed`: nothing stored);
   * rejects (the caller answers 503) when it cannot. A fanned-out request also moves its portals' last webhook
   * time to `receivedAt`; a job's is moved by the ingest worker.
   */
  async add(data: IngestJobData, claim?: ReplayClaim): Promise<Handoff> {
    // A breach reason edit is a job's work (its handler reads HubSpot), never the request path's.
    if (this.inline && dealCount(data) <= this.inline.maxDeals && !data.reasonEdits?.length) {
      const r = await this.inline.reconcile.enqueueDelivery(data.portals, {
        ...(claim ? { claim } : {}),
        ...(data.receivedAt !== undefined ? { receivedAt: data.receivedAt } : {}),
      });
      if (r === 'replayed') return r;
      ingestDeals.inc({ outcome: 'enqueued' }, r.added);
      ingestDeals.inc({ outcome: 'coalesced' }, r.coalesced);
      return 'fanned-out';
    }
    if (claim && !(await claim.take())) return 'replayed';
    await this.queue.add('ingest', data);
    return 'queued';
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
 * The ingest worker: fans each accepted request out into the reconcile queue, takes its breach reason edits, then
 * records the portal's last webhook (the settings page's status block).
 */
export function startIngestWorker(
  deps: {
    reconcile: Pick<ReconcileQueue, 'enqueue'>;
    activity?: { recordWebhook(portalId: string, at: number): Promise<void> };
    reasonEdit: ApplyReasonEdit;
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
      // One after another: a failure retries the job, and the edits already taken come back `unchanged`.
      for (const edit of data.reasonEdits ?? []) {
        const outcome = await deps.reasonEdit(edit);
        w.log.info(
          { portalId: edit.portalId, dealId: edit.dealId, userId: edit.userId, outcome },
          'breach reason edited in HubSpot',
        );
      }
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
