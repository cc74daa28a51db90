import type { Command } from '@stagekeeper/shared';
import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { redisKeys } from '../state/keys';
import { deletePrefix, sleep, testPrefix, testRedis, waitFor } from '../testing/fakes';
import { QUEUE_NAMES, timerJobId } from './job-ids';
import { TimerQueue, type TimerJobData } from './timer-queue';

type Schedule = Extract<Command, { type: 'scheduleTimer' }>;
const ENTRY = '900:appointmentscheduled:1700000000000';
const timer = (kind: Schedule['kind'], fireAt: number, level?: number): Schedule => ({
  type: 'scheduleTimer',
  timerId: level === undefined ? `${ENTRY}:${kind}` : `${ENTRY}:level:${level}`,
  kind,
  entryId: ENTRY,
  fireAt,
  ...(level === undefined ? {} : { level }),
});

let redis: Redis;
let workerRedis: Redis;
let prefix: string;
let timers: TimerQueue;
let worker: Worker | undefined;
let fired: { data: TimerJobData; at: number; jobId: string | undefined }[];
let holdFiring: Promise<void> | undefined;

function startWorker() {
  worker = new Worker<TimerJobData>(
    QUEUE_NAMES.timers,
    async (job) => {
      fired.push({ data: job.data, at: Date.now(), jobId: job.id });
      await holdFiring;
    },
    { connection: workerRedis, prefix: redisKeys(prefix).bullPrefix() },
  );
}

beforeEach(() => {
  redis = testRedis();
  workerRedis = redis.duplicate({ maxRetriesPerRequest: null });
  prefix = testPrefix();
  timers = new TimerQueue(redis, redisKeys(prefix).bullPrefix());
  fired = [];
  holdFiring = undefined;
});
afterEach(async () => {
  await worker?.close();
  worker = undefined;
  await timers.close();
  await deletePrefix(redis, prefix);
  await workerRedis.quit();
  await redis.quit();
});

describe('timer queue', () => {
  it('fires a delayed job at fireAt, not before, with the firing the engine asked for', async () => {
    startWorker();
    const fireAt = Date.now() + 300;
    const { jobId } = await timers.schedule('7', '900', timer('breach', fireAt));
    expect(jobId).toBe(timerJobId('7', `${ENTRY}:breach`));
    expect(jobId).not.toContain(':');
    await waitFor(() => fired.length === 1, 5_000, 'timer to fire');
    expect(fired[0]!.at).toBeGreaterThanOrEqual(fireAt - 5);
    expect(fired[0]!.data).toEqual({
      portalId: '7',
      dealId: '900',
      fireAt,
      firing: { timerId: `${ENTRY}:breach`, kind: 'breach', entryId: ENTRY },
    });
  });

  it('rescheduling the same timer id replaces the pending job', async () => {
    await timers.schedule('7', '900', timer('warning', Date.now() + 60_000));
    await timers.schedule('7', '900', timer('warning', Date.now() + 150));
    expect(await timers.queue.getJobs(['delayed', 'waiting'])).toHaveLength(1);
    startWorker();
    await waitFor(() => fired.length === 1, 5_000, 'replaced timer to fire');
    await sleep(200);
    expect(fired).toHaveLength(1);
  });

  it('keeps different timers of the same entry apart (levels, kinds, portals)', async () => {
    const at = Date.now() + 60_000;
    await timers.schedule('7', '900', timer('escalation', at, 0));
    await timers.schedule('7', '900', timer('escalation', at, 1));
    await timers.schedule('7', '900', timer('warning', at));
    await timers.schedule('8', '900', timer('warning', at));
    expect(await timers.queue.getJobs(['delayed'])).toHaveLength(4);
  });

  it('cancel removes the pending job so it never fires', async () => {
    await timers.schedule('7', '900', timer('breach', Date.now() + 150));
    await timers.cancel('7', `${ENTRY}:breach`);
    expect(await timers.pending('7', `${ENTRY}:breach`)).toBeUndefined();
    startWorker();
    await sleep(400);
    expect(fired).toEqual([]);
    await timers.cancel('7', 'never-scheduled'); // harmless
  });

  it('a timer past due fires immediately', async () => {
    startWorker();
    await timers.schedule('7', '900', timer('warning', Date.now() - 10_000));
    await waitFor(() => fired.length === 1, 5_000, 'overdue timer');
  });

  it('rescheduling a timer while its own job is firing is not swallowed', async () => {
    let release: () => void = () => undefined;
    holdFiring = new Promise((r) => (release = r));
    startWorker();
    await timers.schedule('7', '900', timer('warning', Date.now()));
    await waitFor(() => fired.length === 1, 5_000, 'first firing');
    // The firing's own decision re-arms the same timer id (e.g. a pause moved the warning).
    await timers.schedule('7', '900', timer('warning', Date.now() + 100));
    expect(await timers.pending('7', `${ENTRY}:warning`)).toBeDefined();
    holdFiring = undefined;
    release();
    await waitFor(() => fired.length === 2, 5_000, 'the re-armed timer');
    // And cancelling reaches the re-armed copy as well.
    await timers.schedule('7', '900', timer('warning', Date.now() + 60_000));
    await timers.cancel('7', `${ENTRY}:warning`);
    expect(await timers.pending('7', `${ENTRY}:warning`)).toBeUndefined();
  });
});
