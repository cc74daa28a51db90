import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { redisKeys } from '../state/keys';
import { deletePrefix, sleep, testPrefix, testRedis, waitFor } from '../testing/fakes';
import { QUEUE_NAMES } from './job-ids';
import { ReconcileQueue, type ReconcileJobData } from './reconcile';

let redis: Redis;
let workerRedis: Redis;
let prefix: string;
let queue: ReconcileQueue;
let worker: Worker | undefined;

beforeEach(() => {
  redis = testRedis();
  workerRedis = redis.duplicate({ maxRetriesPerRequest: null });
  prefix = testPrefix();
  queue = new ReconcileQueue(redis, redisKeys(prefix).bullPrefix(), 40);
});
afterEach(async () => {
  await worker?.close();
  worker = undefined;
  await queue.close();
  await deletePrefix(redis, prefix);
  await workerRedis.quit();
  await redis.quit();
});

/** A worker whose runs can be held open, recording when each run starts and ends. */
function startWorker(concurrency: number) {
  const runs: { dealId: string; start: number; end?: number }[] = [];
  let gate: Promise<void> = Promise.resolve();
  let open: () => void = () => undefined;
  const hold = () => {
    gate = new Promise((r) => (open = r));
  };
  worker = new Worker<ReconcileJobData>(
    QUEUE_NAMES.reconcile,
    async (job: Job<ReconcileJobData>) => {
      const run: { dealId: string; start: number; end?: number } = {
        dealId: job.data.dealId,
        start: Date.now(),
      };
      runs.push(run);
      await gate;
      run.end = Date.now();
    },
    { connection: workerRedis, prefix: redisKeys(prefix).bullPrefix(), concurrency },
  );
  return { runs, hold, release: () => open() };
}

describe('reconcile coalescing', () => {
  it('turns a burst of requests for one deal into one run', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, () => queue.enqueue('1', ['42', '42'], 'webhook')),
    );
    await queue.enqueue('1', ['43'], 'webhook');
    expect(results.reduce((n, r) => n + r.added, 0)).toBe(1);
    expect(await queue.queue.getJobs(['delayed', 'waiting'])).toHaveLength(2);

    const w = startWorker(4);
    await waitFor(() => w.runs.filter((r) => r.end).length === 2, 5_000, 'two runs');
    await sleep(200);
    expect(w.runs.map((r) => r.dealId).sort()).toEqual(['42', '43']);
  });

  it("adds a single deal's request without a pipeline (a pipeline costs CPU on the shared connection)", async () => {
    const pipelines = vi.spyOn(redis, 'pipeline');
    try {
      expect(await queue.enqueue('1', ['42'], 'webhook')).toEqual({ added: 1, coalesced: 0 });
      expect(await queue.enqueue('1', ['42'], 'webhook')).toEqual({ added: 0, coalesced: 1 });
      expect(pipelines).not.toHaveBeenCalled();
      expect(await queue.enqueue('1', ['43', '44'], 'webhook')).toEqual({ added: 2, coalesced: 0 });
      expect(pipelines).toHaveBeenCalledTimes(1);
    } finally {
      pipelines.mockRestore();
    }
    expect(await queue.queue.getJobs(['delayed', 'waiting'])).toHaveLength(3);
  });

  it('runs exactly once more when requests arrive while a run is active, and never overlaps runs of one deal', async () => {
    const w = startWorker(4);
    w.hold();
    await queue.enqueue('1', ['42'], 'webhook');
    await waitFor(() => w.runs.length === 1, 5_000, 'first run to start');

    // Three changes land while the first run is reading HubSpot: none may be lost, one follow-up is enough.
    for (let i = 0; i < 3; i++) expect((await queue.enqueue('1', ['42'], 'webhook')).added).toBe(0);
    await sleep(150); // longer than the debounce: a follow-up would have started by now if it could overlap
    expect(w.runs).toHaveLength(1);

    w.release();
    await waitFor(() => w.runs.length === 2 && w.runs[1]!.end !== undefined, 5_000, 'the follow-up run');
    expect(w.runs[1]!.start).toBeGreaterThanOrEqual(w.runs[0]!.end!);
    await sleep(200);
    expect(w.runs).toHaveLength(2);

    // With everything finished the deal is clean: the next request starts a fresh run.
    expect((await queue.enqueue('1', ['42'], 'webhook')).added).toBe(1);
    await waitFor(() => w.runs.length === 3, 5_000, 'a fresh run');
  });

  it('keeps a follow-up requested during a failing run: retry first, then the follow-up', async () => {
    let attempts = 0;
    const seen: string[] = [];
    worker = new Worker<ReconcileJobData>(
      QUEUE_NAMES.reconcile,
      async (job) => {
        seen.push(`${job.id}#${job.attemptsMade}`);
        attempts++;
        if (attempts === 1) {
          await queue.enqueue('1', ['42'], 'webhook');
          throw new Error('HubSpot 502');
        }
      },
      {
        connection: workerRedis,
        prefix: redisKeys(prefix).bullPrefix(),
        settings: { backoffStrategy: () => 20 },
      },
    );
    await queue.queue.add(
      'reconcile',
      { portalId: '1', dealId: '42', source: 'manual' },
      {
        jobId: 'first-run',
        attempts: 2,
        backoff: { type: 'custom' },
        deduplication: { id: 'reconcile:1:42', keepLastIfActive: true },
      },
    );
    await waitFor(() => seen.length >= 3, 5_000, 'retry and follow-up');
    await sleep(300);
    // The failed attempt is retried; the request made during it was parked, not dropped, and runs after.
    expect(seen).toHaveLength(3);
    expect(seen.slice(0, 2)).toEqual(['first-run#0', 'first-run#1']);
    expect(seen[2]).toMatch(/^rc-1-42-.*#0$/);
  });
});
