import { TimerFiring } from '@stagekeeper/shared';
import type { ConnectionOptions, Job, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { DecideDeps } from '../decide';
import type { Logger } from '../log';
import { luaScript } from '../state/lua';
import { allTimerJobIds, HubSpotIdString, QUEUE_NAMES } from './job-ids';
import { LegacyJobs } from './legacy-jobs';
import { runWorker, type WorkerConnection } from './run-worker';
import { fireTimer, firingOf, type PendingTimer } from './timers';

/** The first stored shape of a timer job. */
const FullTimerJob = z.object({
  portalId: HubSpotIdString,
  dealId: HubSpotIdString,
  firing: TimerFiring,
  fireAt: z.number(),
});

/** The compact shape that followed: p portal, t timer id, fireAt; d, k, e, l only when not derivable. */
const CompactTimerJob = z.object({
  p: HubSpotIdString,
  t: z.string().min(1),
  fireAt: z.number(),
  d: HubSpotIdString.optional(),
  k: TimerFiring.shape.kind.optional(),
  e: z.string().optional(),
  l: z.number().int().optional(),
});

/** A legacy timer job's payload, either stored shape, as `{portalId, dealId, firing, fireAt}`. */
export const TimerJobData = z.union([
  FullTimerJob,
  CompactTimerJob.transform((c, ctx) => {
    const derived = firingOf(c.t, c);
    if (!derived) {
      ctx.addIssue({ code: 'custom', message: `timer job ${c.t}: firing or deal cannot be derived` });
      return z.NEVER;
    }
    return { portalId: c.p, ...derived, fireAt: c.fireAt };
  }),
]);
export type TimerJobData = z.output<typeof FullTimerJob>;

/** Finished legacy jobs: completed ones dropped, the last 10,000 failed kept for inspection, as before. */
export const TIMER_RETENTION = { removeOnComplete: { count: 0 }, removeOnFail: { count: 10_000 } };

/** Which of KEYS exist (1) or not (0), in one round trip. */
const existingKeys = luaScript(`
local out = {}
for i, key in ipairs(KEYS) do out[i] = redis.call('EXISTS', key) end
return out
`);

/**
 * SLA timers armed as BullMQ delayed jobs, by versions of the service before the due index (queue/timers.ts).
 * Such a job may wait for weeks, and during a rolling deploy an older process may still arm one: they must still
 * fire (the draining worker below, started as legacy-jobs.ts finds jobs) and a reschedule or cancel must still
 * reach them (`remove`).
 */
export class LegacyTimerJobs extends LegacyJobs {
  constructor(connection: ConnectionOptions, bullPrefix: string, log: Logger, checkEveryMs = 60_000) {
    super(QUEUE_NAMES.timers, connection, bullPrefix, log, checkEveryMs);
  }

  /**
   * Removes the legacy jobs of these timers, under any id they may have: one script tells which ids exist, so
   * BullMQ's remove script (about twenty commands inside Redis each) runs only for jobs that are there. A job
   * running right now cannot be removed; its firing re-checks the deal, so it does no harm.
   */
  async remove(portalId: string, timerIds: string[]): Promise<void> {
    const ids = timerIds.flatMap((timerId) => allTimerJobIds(portalId, timerId));
    // BullMQ connects with ioredis; its client type is an interface narrower than the class.
    const client = (await this.queue.client) as unknown as Redis;
    const exists = (await existingKeys(
      client,
      ids.map((id) => this.queue.toKey(id)),
      [],
    )) as number[];
    await Promise.all(ids.map((id, i) => (exists[i] === 1 ? this.queue.remove(id) : undefined)));
  }

  /** The pending legacy job of a timer id, if any. */
  async pending(portalId: string, timerId: string): Promise<PendingTimer | undefined> {
    if (!this.present) return undefined;
    for (const id of allTimerJobIds(portalId, timerId)) {
      const job = await this.queue.getJob(id);
      if (job && ['delayed', 'waiting', 'prioritized'].includes(await job.getState())) {
        const t = asPending(job);
        if (t) return t;
      }
    }
    return undefined;
  }

  /** Every pending legacy job. */
  async list(): Promise<PendingTimer[]> {
    if (!this.present) return [];
    const jobs = await this.queue.getJobs(['delayed', 'waiting', 'prioritized', 'active', 'paused']);
    return jobs.flatMap((j) => (j ? (asPending(j) ?? []) : []));
  }
}

function asPending(job: Job): PendingTimer | undefined {
  const r = TimerJobData.safeParse(job.data);
  if (!r.success) return undefined;
  const { portalId, dealId, firing, fireAt } = r.data;
  return { portalId, dealId, firing, fireAt, ...(job.id ? { legacyJobId: job.id } : {}) };
}

/** The worker that drains legacy timer jobs: each due job (either stored shape) run by `fireTimer`. */
export function startLegacyTimerWorker(deps: DecideDeps, w: WorkerConnection): Worker {
  return runWorker(
    QUEUE_NAMES.timers,
    TimerJobData,
    (data) => fireTimer(deps, data.portalId, data.dealId, data.firing),
    w,
    TIMER_RETENTION,
  );
}
