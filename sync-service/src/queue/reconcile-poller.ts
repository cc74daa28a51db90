import type { Redis } from 'ioredis';
import type { DecideDeps } from '../decide';
import type { Logger } from '../log';
import type { Keys } from '../state/keys';
import { DuePoller, planRetry, type Claimed, type RetryPolicy } from './due-poller';
import { DURABLE_JOB_OPTIONS } from './job-ids';
import { reconcileDeals, splitReconcileMember, type ReconcileQueue } from './reconcile';

/** Today's durable job options (job-ids.ts): eight tries, exponential from 1 s, over about four minutes. */
export const RECONCILE_RETRY: RetryPolicy = {
  attempts: DURABLE_JOB_OPTIONS.attempts,
  backoffMs: DURABLE_JOB_OPTIONS.backoff.delay,
};

export type ReconcileTarget = { portalId: string; dealId: string };

/** A member and its meta (`{"a": attempts}` or null) read back; undefined when it cannot be. */
export function decodeReconcile(
  member: string,
  meta: string | null | undefined,
): (ReconcileTarget & { attempts: number }) | undefined {
  const ids = splitReconcileMember(member);
  if (!ids) return undefined;
  let attempts = 0;
  if (meta) {
    try {
      const a = (JSON.parse(meta) as { a?: unknown }).a;
      if (a !== undefined && !(Number.isInteger(a) && (a as number) >= 0)) return undefined;
      attempts = (a as number | undefined) ?? 0;
    } catch {
      return undefined;
    }
  }
  return { ...ids, attempts };
}

export type ReconcilePollerOptions = {
  redis: Redis;
  keys: Keys;
  log: Logger;
  /** Runs in flight at most: the workers' concurrency, as the BullMQ worker had. */
  concurrency: number;
  /** Where give-ups are recorded. */
  queue: Pick<ReconcileQueue, 'recordGiveUp'>;
  /** The same clock as the queue's: the wall clock, not the playbook clock. */
  clock?: () => number;
  run: (t: Claimed<ReconcileTarget>) => Promise<unknown>;
  pollMs?: number;
  pageSize?: number;
  leaseMs?: number;
  retry?: RetryPolicy;
  random?: () => number;
};

/**
 * Claims due reconcile requests (queue/reconcile.ts) and runs each deal through `reconcileDeals`, one deal per
 * run as the BullMQ worker did and as many at once as it did, so concurrent runs still share HubSpot batch
 * reads. A failed run is retried as the jobs were (a daily limit waits for the reset, a 4xx is given up at once)
 * with its attempts kept in the meta hash; a run given up is logged and recorded with the queue.
 */
export class ReconcilePoller extends DuePoller<ReconcileTarget> {
  constructor(opts: ReconcilePollerOptions) {
    const clock = opts.clock ?? Date.now;
    const policy = opts.retry ?? RECONCILE_RETRY;
    super({
      redis: opts.redis,
      keys: { due: opts.keys.reconcileDue(), meta: opts.keys.reconcileMeta() },
      queue: 'reconcile',
      clock,
      log: opts.log,
      concurrency: opts.concurrency,
      decode: decodeReconcile,
      run: opts.run,
      retry: (err, attempts, now) => planRetry(policy, err, attempts, now, opts.random),
      describe: (t) => ({ portalId: t.portalId, dealId: t.dealId, attempts: t.attempts }),
      onGiveUp: (t, why) =>
        opts.queue.recordGiveUp({
          portalId: t.portalId,
          dealId: t.dealId,
          at: clock(),
          attempts: t.attempts + 1,
          why,
        }),
      ...(opts.pollMs !== undefined ? { pollMs: opts.pollMs } : {}),
      ...(opts.pageSize !== undefined ? { pageSize: opts.pageSize } : {}),
      ...(opts.leaseMs !== undefined ? { leaseMs: opts.leaseMs } : {}),
    });
  }
}

/** The service's poller: each claimed deal reconciled with the service's decide deps. */
export const reconcileRunner =
  (deps: DecideDeps) =>
  (t: ReconcileTarget): Promise<unknown> =>
    reconcileDeals(deps, t.portalId, [t.dealId]);
