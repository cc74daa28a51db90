import { dealIdOfEntry, firingOfTimerId, TimerFiring, type Command } from '@stagekeeper/shared';
import { Queue, type ConnectionOptions, type Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { createDecider, type DealOutcome, type DecideDeps } from '../decide';
import { portalLogger } from '../log';
import { slaBreaches, slaEscalations, slaWarnings } from '../metrics';
import { allTimerJobIds, QUEUE_NAMES, timerJobId, timerRetryJobId } from './job-ids';
import { luaScript } from '../state/lua';
import { runWorker, type WorkerConnection } from './run-worker';

const Numeric = z.string().regex(/^\d+$/);

/** The first stored shape; timers armed before the compact shape may still be pending and must fire. */
const LegacyTimerJob = z.object({
  portalId: Numeric,
  dealId: Numeric,
  firing: TimerFiring,
  fireAt: z.number(),
});

/**
 * The stored shape (a pending timer costs Redis memory for as long as it waits, so it is kept small):
 * p portal, t engine timer id, fireAt; d deal, k kind, e entry id and l level only when they cannot be derived
 * from the timer id (shared `firingOfTimerId`, `dealIdOfEntry`).
 * `fireAt` keeps its name: the e2e harness and the demo's timer pump read `job.data.fireAt` of delayed jobs
 * (and the value lands in the same allocator size class either way).
 */
const CompactTimerJob = z.object({
  p: Numeric,
  t: z.string().min(1),
  fireAt: z.number(),
  d: Numeric.optional(),
  k: TimerFiring.shape.kind.optional(),
  e: z.string().optional(),
  l: z.number().int().optional(),
});
type CompactTimerJob = z.infer<typeof CompactTimerJob>;

const sameFiring = (a: TimerFiring | undefined, b: TimerFiring) =>
  !!a && a.timerId === b.timerId && a.kind === b.kind && a.entryId === b.entryId && a.level === b.level;

/** What a timer job is stored as: only what the worker cannot derive. */
export function encodeTimerJob(data: TimerJobData): CompactTimerJob {
  const { portalId, dealId, firing, fireAt } = data;
  const derivable = sameFiring(firingOfTimerId(firing.timerId), firing);
  const explicit = derivable
    ? {}
    : { k: firing.kind, e: firing.entryId, ...(firing.level !== undefined ? { l: firing.level } : {}) };
  const dealDerivable = dealIdOfEntry(firing.entryId) === dealId;
  return { p: portalId, t: firing.timerId, fireAt, ...(dealDerivable ? {} : { d: dealId }), ...explicit };
}

/**
 * The worker's view of a timer job: `{portalId, dealId, firing, fireAt}`, parsed from either stored shape
 * (`TimerJobData.safeParse(job.data)`).
 */
export const TimerJobData = z.union([
  LegacyTimerJob,
  CompactTimerJob.transform((c, ctx) => {
    const firing: TimerFiring | undefined =
      c.k !== undefined
        ? { timerId: c.t, kind: c.k, entryId: c.e ?? '', ...(c.l !== undefined ? { level: c.l } : {}) }
        : firingOfTimerId(c.t);
    const dealId = c.d ?? (firing ? dealIdOfEntry(firing.entryId) : '');
    if (!firing || !firing.entryId || !/^\d+$/.test(dealId)) {
      ctx.addIssue({ code: 'custom', message: `timer job ${c.t}: firing or deal cannot be derived` });
      return z.NEVER;
    }
    return { portalId: c.p, dealId, firing, fireAt: c.fireAt };
  }),
]);
export type TimerJobData = z.output<typeof LegacyTimerJob>;
/** Either stored shape, as it sits in Redis. */
export type StoredTimerJob = z.input<typeof TimerJobData>;

type ScheduleTimer = Extract<Command, { type: 'scheduleTimer' }>;
export type TimerCommand = Extract<Command, { type: 'scheduleTimer' | 'cancelTimer' }>;

/**
 * Finished timer jobs: completed ones dropped, the last 10,000 failed kept for inspection (a count, no age).
 * Given to the worker rather than to each job: job options are stored in every pending job's hash (~50 bytes
 * each, the difference between the 112- and 160-byte allocation of its opts), while BullMQ falls back to the
 * worker's for a job that has none. Jobs armed before this carry their own, which are the same.
 */
export const TIMER_RETENTION = { removeOnComplete: { count: 0 }, removeOnFail: { count: 10_000 } };

/** Which of KEYS exist (1) or not (0), in one round trip. */
const existingKeys = luaScript(`
local out = {}
for i, key in ipairs(KEYS) do out[i] = redis.call('EXISTS', key) end
return out
`);

/**
 * SLA warning / breach / escalation timers as BullMQ delayed jobs whose id is derived from the engine's timer
 * id. A firing only tells the worker "look now": the engine re-checks that the stage entry is still current.
 */
export class TimerQueue {
  readonly queue: Queue<StoredTimerJob>;

  constructor(
    connection: ConnectionOptions,
    bullPrefix: string,
    private readonly clock: () => number = Date.now,
  ) {
    this.queue = new Queue<StoredTimerJob>(QUEUE_NAMES.timers, {
      connection,
      prefix: bullPrefix,
      // What to keep of finished jobs is the worker's (TIMER_RETENTION): it would be stored in every pending job.
      defaultJobOptions: { attempts: 10, backoff: { type: 'exponential', delay: 2_000 } },
    });
  }

  /** Replaces any pending job for the same timer id (under any of its ids): the latest schedule wins. */
  async schedule(portalId: string, dealId: string, cmd: ScheduleTimer): Promise<{ jobId: string }> {
    const [jobId] = await this.apply(portalId, dealId, [cmd]);
    return { jobId: jobId! };
  }

  async cancel(portalId: string, timerId: string): Promise<void> {
    await this.apply(portalId, '', [{ type: 'cancelTimer', timerId }]);
  }

  /**
   * One decision's timer commands in a few round trips: per timer id only its last command counts (a cancel
   * followed by a schedule of the same timer is one replacement). One script tells which of the timers' job ids
   * exist, so BullMQ's remove script (about twenty commands inside Redis each) runs only for jobs that are there,
   * legacy ids included; the new jobs go in one bulk add. Returns the job ids scheduled, in order.
   */
  async apply(portalId: string, dealId: string, commands: TimerCommand[]): Promise<string[]> {
    const last = new Map<string, TimerCommand>();
    for (const c of commands) {
      last.delete(c.timerId);
      last.set(c.timerId, c);
    }
    if (last.size === 0) return [];
    const ids = [...last.keys()].map((timerId) => allTimerJobIds(portalId, timerId));
    // BullMQ connects with ioredis; its client type is an interface narrower than the class.
    const client = (await this.queue.client) as unknown as Redis;
    const exists = (await existingKeys(
      client,
      ids.flat().map((id) => this.queue.toKey(id)),
      [],
    )) as number[];
    const primaries = new Set(ids.map(([primary]) => primary!));
    const blocked = new Set<string>();
    await Promise.all(
      ids.flat().map(async (id, i) => {
        if (exists[i] !== 1) return;
        // 0 means locked by a worker (or gone meanwhile); a running primary keeps the next schedule off its id.
        const removed = await this.queue.remove(id);
        if (removed === 0 && primaries.has(id) && (await client.exists(this.queue.toKey(id))) === 1)
          blocked.add(id);
      }),
    );
    const jobs = [...last.values()].flatMap((cmd) => {
      if (cmd.type !== 'scheduleTimer') return [];
      const primary = timerJobId(portalId, cmd.timerId);
      // BullMQ cannot remove a job that is running. If the primary is firing right now (typically this very
      // schedule comes out of that firing), the new schedule goes under the secondary id instead of being
      // silently swallowed as a duplicate. (A legacy-id job firing right now does not block the primary id.)
      const jobId = blocked.has(primary) ? timerRetryJobId(portalId, cmd.timerId) : primary;
      const firing: TimerFiring = {
        timerId: cmd.timerId,
        kind: cmd.kind,
        entryId: cmd.entryId,
        ...(cmd.level !== undefined ? { level: cmd.level } : {}),
      };
      // The job name is the kind alone (the queue already says "timers").
      return [
        {
          name: cmd.kind,
          data: encodeTimerJob({ portalId, dealId, firing, fireAt: cmd.fireAt }),
          opts: { jobId, delay: Math.max(0, cmd.fireAt - this.clock()) },
        },
      ];
    });
    if (jobs.length > 0) await this.queue.addBulk(jobs);
    return jobs.map((j) => j.opts.jobId);
  }

  /** Pending (delayed or waiting) job for a timer id, if any; used by tests and the card's diagnostics. */
  async pending(portalId: string, timerId: string) {
    for (const id of allTimerJobIds(portalId, timerId)) {
      const job = await this.queue.getJob(id);
      if (job && ['delayed', 'waiting', 'prioritized'].includes(await job.getState())) return job;
    }
    return undefined;
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}

/**
 * The timer worker's job: a warning, breach or escalation timer of one deal fired, so the deal is brought to the
 * decision `engine.onTimer` makes now (which re-checks that the stage entry and level are still current).
 */
export async function fireTimer(
  deps: DecideDeps,
  portalId: string,
  dealId: string,
  timer: TimerFiring,
): Promise<DealOutcome> {
  const decider = createDecider(deps);
  const log = portalLogger(deps.log, portalId, { dealId, timerId: timer.timerId });
  const playbook = await decider.playbookInForce(portalId, 'timer', log, {});
  if (!playbook) return 'no_playbook';
  const first = await decider.readDeal(portalId, dealId, playbook);
  // Only the first decision is the firing itself; after a conflict the firing may have been handled already,
  // but onTimer re-checks entry and level against the fresh state, so re-asking is safe.
  const { outcome, result } = await decider.settle(
    portalId,
    playbook,
    dealId,
    first,
    (pb, state, snapshot, now, routing) =>
      deps.engine.onTimer({ playbook: pb, state, snapshot, timer, now, routing }),
    log,
  );
  if (result && result.commands.length > 0) countFiring(timer);
  return outcome;
}

/** A firing that led to commands really warned / breached / escalated; a stale one yields none. */
function countFiring(timer: TimerFiring): void {
  if (timer.kind === 'warning') slaWarnings.inc();
  else if (timer.kind === 'breach') slaBreaches.inc();
  else slaEscalations.inc();
}

/** The timer worker: each due timer job (either stored shape) run by `fireTimer`. */
export function startTimerWorker(deps: DecideDeps, w: WorkerConnection): Worker {
  return runWorker(
    QUEUE_NAMES.timers,
    TimerJobData,
    (data) => fireTimer(deps, data.portalId, data.dealId, data.firing),
    w,
    TIMER_RETENTION,
  );
}
