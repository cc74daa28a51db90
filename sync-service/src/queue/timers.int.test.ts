import type { Command } from '@stagekeeper/shared';
import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../log';
import { redisKeys } from '../state/keys';
import { deletePrefix, sleep, testPrefix, testRedis, waitFor } from '../testing/fakes';
import { legacyTimerJobIds, QUEUE_NAMES, timerJobId } from './job-ids';
import { runWorker } from './run-worker';
import { encodeTimerJob, TIMER_RETENTION, TimerJobData, TimerQueue } from './timers';

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
      // As the service's worker reads it: either stored shape parsed into the worker's view.
      fired.push({ data: TimerJobData.parse(job.data), at: Date.now(), jobId: job.id });
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
    // Stored compactly: entry, kind and deal are derived from the timer id, so only portal, timer id and fireAt.
    const stored = await timers.queue.getJob(jobId);
    expect(stored!.name).toBe('breach');
    expect(stored!.data).toEqual({ p: '7', t: `${ENTRY}:breach`, fireAt });
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

  it('a pending job stores no retention; the service worker still drops it once fired', async () => {
    const jobId = timerJobId('7', `${ENTRY}:warning`);
    await timers.schedule('7', '900', timer('warning', Date.now() + 200));
    const opts = (await timers.queue.getJob(jobId))!.opts;
    expect(opts).not.toHaveProperty('removeOnComplete');
    expect(opts).toMatchObject({ attempts: 10 });
    const ran: string[] = [];
    worker = runWorker(
      QUEUE_NAMES.timers,
      TimerJobData,
      async (data) => void ran.push(data.firing.timerId),
      { connection: workerRedis, prefix: redisKeys(prefix).bullPrefix(), concurrency: 1, log: silentLogger },
      TIMER_RETENTION,
    );
    await waitFor(() => ran.length === 1, 5_000, 'timer to fire');
    await waitFor(async () => !(await timers.queue.getJob(jobId)), 5_000, 'fired job to be dropped');
    expect(await timers.queue.getCompletedCount()).toBe(0);
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

  it('a job stored in the old shape under the old id (armed before the compact shape) still fires', async () => {
    startWorker();
    const fireAt = Date.now() + 100;
    const old = {
      portalId: '7',
      dealId: '900',
      firing: { timerId: `${ENTRY}:level:2`, kind: 'escalation', entryId: ENTRY, level: 2 },
      fireAt,
    };
    const [legacyId] = legacyTimerJobIds('7', `${ENTRY}:level:2`);
    expect(legacyId).toBe('tm-7-900%3Aappointmentscheduled%3A1700000000000%3Alevel%3A2');
    await timers.queue.add('timer:escalation', old as never, { jobId: legacyId, delay: 100 });
    await waitFor(() => fired.length === 1, 5_000, 'old-shape timer to fire');
    expect(fired[0]!.data).toEqual(old);
    expect(fired[0]!.jobId).toBe(legacyId);
  });

  it('rescheduling or cancelling reaches an old-shape job under the old id', async () => {
    const [legacyId, legacyNext] = legacyTimerJobIds('7', `${ENTRY}:warning`);
    const old = (fireAt: number) => ({
      portalId: '7',
      dealId: '900',
      firing: { timerId: `${ENTRY}:warning`, kind: 'warning', entryId: ENTRY },
      fireAt,
    });
    await timers.queue.add('timer:warning', old(Date.now() + 60_000) as never, {
      jobId: legacyId,
      delay: 60_000,
    });
    await timers.queue.add('timer:warning', old(Date.now() + 60_000) as never, {
      jobId: legacyNext,
      delay: 60_000,
    });
    expect((await timers.pending('7', `${ENTRY}:warning`))?.id).toBe(legacyId);
    const { jobId } = await timers.schedule('7', '900', timer('warning', Date.now() + 60_000));
    expect((await timers.queue.getJobs(['delayed'])).map((j) => j.id)).toEqual([jobId]);
    await timers.queue.add('timer:warning', old(Date.now() + 60_000) as never, {
      jobId: legacyId,
      delay: 60_000,
    });
    await timers.cancel('7', `${ENTRY}:warning`);
    expect(await timers.queue.getJobs(['delayed'])).toEqual([]);
    expect(await timers.pending('7', `${ENTRY}:warning`)).toBeUndefined();
  });

  it("one decision's timer commands: the last per timer id wins, others are untouched", async () => {
    const warning = `${ENTRY}:warning`;
    const breach = `${ENTRY}:breach`;
    const later = Date.now() + 120_000;
    await timers.apply('7', '900', [
      timer('warning', Date.now() + 60_000),
      timer('breach', Date.now() + 60_000),
    ]);
    const ids = await timers.apply('7', '900', [
      { type: 'cancelTimer', timerId: warning },
      timer('warning', later),
      timer('escalation', later, 0),
      { type: 'cancelTimer', timerId: `${ENTRY}:level:0` },
    ]);
    expect(ids).toEqual([timerJobId('7', warning)]);
    expect((await timers.pending('7', warning))?.data).toMatchObject({ fireAt: later });
    expect(await timers.pending('7', breach)).toBeDefined();
    expect(await timers.pending('7', `${ENTRY}:level:0`)).toBeUndefined();
    expect((await timers.queue.getJobs(['delayed'])).map((j) => j.id).sort()).toEqual(
      [timerJobId('7', warning), timerJobId('7', breach)].sort(),
    );
  });

  it('stores what it cannot derive from the timer id, and parses both shapes to the same data', () => {
    const cases: TimerJobData[] = [
      {
        portalId: '7',
        dealId: '900',
        fireAt: 1,
        firing: { timerId: `${ENTRY}:warning`, kind: 'warning', entryId: ENTRY },
      },
      {
        portalId: '7',
        dealId: '900',
        fireAt: 2,
        firing: { timerId: `${ENTRY}:level:3`, kind: 'escalation', entryId: ENTRY, level: 3 },
      },
      // Timer ids or entries the engine does not spell this way keep every field.
      {
        portalId: '7',
        dealId: '901',
        fireAt: 3,
        firing: { timerId: `${ENTRY}:breach`, kind: 'breach', entryId: ENTRY },
      },
      {
        portalId: '7',
        dealId: '900',
        fireAt: 4,
        firing: { timerId: 'custom-id', kind: 'escalation', entryId: 'other', level: 0 },
      },
      {
        portalId: '7',
        dealId: '900',
        fireAt: 5,
        firing: { timerId: `${ENTRY}:breach`, kind: 'warning', entryId: ENTRY },
      },
    ];
    for (const data of cases) {
      expect(TimerJobData.parse(encodeTimerJob(data))).toEqual(data);
      expect(TimerJobData.parse(JSON.parse(JSON.stringify(data)))).toEqual(data);
    }
    expect(encodeTimerJob(cases[1]!)).toEqual({ p: '7', t: `${ENTRY}:level:3`, fireAt: 2 });
    expect(encodeTimerJob(cases[2]!)).toEqual({ p: '7', t: `${ENTRY}:breach`, fireAt: 3, d: '901' });
    expect(TimerJobData.safeParse({ p: '7', t: 'underivable', fireAt: 1 }).success).toBe(false);
    expect(TimerJobData.safeParse({ p: 'x', t: `${ENTRY}:breach`, fireAt: 1 }).success).toBe(false);
  });
});
