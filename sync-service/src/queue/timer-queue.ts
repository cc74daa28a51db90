import { TimerFiring, type Command } from '@stagekeeper/shared';
import { Queue, type ConnectionOptions } from 'bullmq';
import { z } from 'zod';
import { QUEUE_NAMES, timerJobId, timerRetryJobId } from './job-ids';

export const TimerJobData = z.object({
  portalId: z.string().regex(/^\d+$/),
  dealId: z.string().regex(/^\d+$/),
  firing: TimerFiring,
  fireAt: z.number(),
});
export type TimerJobData = z.infer<typeof TimerJobData>;

type ScheduleTimer = Extract<Command, { type: 'scheduleTimer' }>;

/**
 * SLA warning / breach / escalation timers as BullMQ delayed jobs whose id is derived from the engine's timer
 * id. A firing only tells the worker "look now": the engine re-checks that the stage entry is still current.
 */
export class TimerQueue {
  readonly queue: Queue<TimerJobData>;

  constructor(
    connection: ConnectionOptions,
    bullPrefix: string,
    private readonly clock: () => number = Date.now,
  ) {
    this.queue = new Queue<TimerJobData>(QUEUE_NAMES.timers, {
      connection,
      prefix: bullPrefix,
      defaultJobOptions: {
        attempts: 10,
        backoff: { type: 'exponential', delay: 2_000 },
        removeOnComplete: true,
        removeOnFail: { age: 7 * 24 * 3600, count: 10_000 },
      },
    });
  }

  /** Replaces any pending job for the same timer id: the latest schedule wins. */
  async schedule(portalId: string, dealId: string, cmd: ScheduleTimer): Promise<{ jobId: string }> {
    const primary = timerJobId(portalId, cmd.timerId);
    const secondary = timerRetryJobId(portalId, cmd.timerId);
    await Promise.all([this.removeIfIdle(primary), this.removeIfIdle(secondary)]);
    // BullMQ cannot remove a job that is running. If the primary is firing right now (typically this very
    // schedule comes out of that firing), the new schedule goes under the secondary id instead of being
    // silently swallowed as a duplicate.
    const jobId = (await this.queue.getJob(primary)) ? secondary : primary;
    const firing: TimerFiring = {
      timerId: cmd.timerId,
      kind: cmd.kind,
      entryId: cmd.entryId,
      ...(cmd.level !== undefined ? { level: cmd.level } : {}),
    };
    await this.queue.add(
      `timer:${cmd.kind}`,
      { portalId, dealId, firing, fireAt: cmd.fireAt },
      { jobId, delay: Math.max(0, cmd.fireAt - this.clock()) },
    );
    return { jobId };
  }

  async cancel(portalId: string, timerId: string): Promise<void> {
    await Promise.all([this.removeIfIdle(timerJobId(portalId, timerId)), this.removeIfIdle(timerRetryJobId(portalId, timerId))]);
  }

  /** Pending (delayed or waiting) job for a timer id, if any; used by tests and the card's diagnostics. */
  async pending(portalId: string, timerId: string) {
    for (const id of [timerJobId(portalId, timerId), timerRetryJobId(portalId, timerId)]) {
      const job = await this.queue.getJob(id);
      if (job && ['delayed', 'waiting', 'prioritized'].includes(await job.getState())) return job;
    }
    return undefined;
  }

  private async removeIfIdle(jobId: string): Promise<void> {
    // 0 means absent or locked by a worker; either way there is nothing more to do here.
    await this.queue.remove(jobId);
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}
