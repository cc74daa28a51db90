import type { ConnectionOptions, Worker } from 'bullmq';
import type { DecideDeps } from '../decide';
import type { Logger } from '../log';
import { QUEUE_NAMES } from './job-ids';
import { LegacyJobs } from './legacy-jobs';
import { reconcileDeals, ReconcileJobData } from './reconcile';
import { runWorker, type WorkerConnection } from './run-worker';

/**
 * Reconcile requests left as BullMQ jobs by versions before the due set (queue/reconcile.ts): a deploy may find
 * some waiting (or retrying), and during a rolling deploy an older process may still add some. They run as
 * before (the draining worker below, started once legacy-jobs.ts finds jobs); a run that overlaps one from the
 * due set for the same deal is ordered by the deal lock.
 */
export class LegacyReconcileJobs extends LegacyJobs {
  constructor(connection: ConnectionOptions, bullPrefix: string, log: Logger, checkEveryMs = 60_000) {
    super(QUEUE_NAMES.reconcile, connection, bullPrefix, log, checkEveryMs);
  }
}

/** The worker that drains legacy reconcile jobs: each run by `reconcileDeals`, retried by its own job options. */
export function startLegacyReconcileWorker(deps: DecideDeps, w: WorkerConnection): Worker {
  return runWorker(
    QUEUE_NAMES.reconcile,
    ReconcileJobData,
    (data) => reconcileDeals(deps, data.portalId, [data.dealId]),
    w,
  );
}
