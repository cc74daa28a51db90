import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../log';
import { redisKeys, type Keys } from '../state/keys';
import { deletePrefix, sleep, testPrefix, testRedis, waitFor } from '../testing/fakes';
import { ReconcileQueue } from './reconcile';
import { ReconcilePoller } from './reconcile-poller';

let redis: Redis;
let workerRedis: Redis;
let prefix: string;
let keys: Keys;
let queue: ReconcileQueue;
let poller: ReconcilePoller | undefined;

const DEBOUNCE = 40;

beforeEach(() => {
  redis = testRedis();
  workerRedis = redis.duplicate();
  prefix = testPrefix();
  keys = redisKeys(prefix);
  queue = new ReconcileQueue(redis, keys, DEBOUNCE, Date.now, (at) => poller?.wakeAt(at));
});
afterEach(async () => {
  await poller?.close();
  poller = undefined;
  await queue.close();
  await deletePrefix(redis, prefix);
  await workerRedis.quit();
  await redis.quit();
});

type Run = { dealId: string; start: number; end?: number };

/** A poller whose runs can be held open or made to fail, recording when each run starts and ends. */
function startPoller(
  concurrency: number,
  fail: (run: Run, n: number) => Promise<void> = async () => undefined,
) {
  const runs: Run[] = [];
  let gate: Promise<void> = Promise.resolve();
  let open: () => void = () => undefined;
  const hold = () => {
    gate = new Promise((r) => (open = r));
  };
  poller = new ReconcilePoller({
    redis: workerRedis,
    keys,
    log: silentLogger,
    concurrency,
    queue,
    pollMs: 20,
    retry: { attempts: 3, backoffMs: 20 },
    run: async (t) => {
      const run: Run = { dealId: t.dealId, start: Date.now() };
      runs.push(run);
      await gate;
      await fail(run, runs.length);
      run.end = Date.now();
    },
  }).start();
  return { runs, hold, release: () => open() };
}

describe('reconcile coalescing (the due set)', () => {
  it('turns a burst of requests for one deal into one run', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, () => queue.enqueue('1', ['42', '42'], 'webhook')),
    );
    await queue.enqueue('1', ['43'], 'webhook');
    expect(results.reduce((n, r) => n + r.added, 0)).toBe(1);
    expect(results.reduce((n, r) => n + r.coalesced, 0)).toBe(19);
    expect((await queue.list()).map((r) => r.dealId).sort()).toEqual(['42', '43']);

    const p = startPoller(4);
    await waitFor(() => p.runs.filter((r) => r.end).length === 2, 5_000, 'two runs');
    await sleep(200);
    expect(p.runs.map((r) => r.dealId).sort()).toEqual(['42', '43']);
    expect(await queue.list()).toEqual([]);
  });

  it('absorbs a request into the one waiting: its due time stays the first request’s', async () => {
    await queue.enqueue('1', ['42'], 'webhook');
    const first = (await queue.pending('1', '42'))!.dueAt;
    await sleep(10);
    expect(await queue.enqueue('1', ['42', '43'], 'webhook')).toEqual({ added: 1, coalesced: 1 });
    expect((await queue.pending('1', '42'))!.dueAt).toBe(first);
  });

  it("adds a deal's request with one command (BullMQ's add ran ~12 inside its script)", async () => {
    await redis.ping(); // connected: the handshake's commands are not the enqueue's
    const sent = vi.spyOn(redis, 'sendCommand');
    const pipelines = vi.spyOn(redis, 'pipeline');
    try {
      expect(await queue.enqueue('1', ['42'], 'webhook')).toEqual({ added: 1, coalesced: 0 });
      expect(await queue.enqueue('1', ['43', '44'], 'webhook')).toEqual({ added: 2, coalesced: 0 });
      expect(sent).toHaveBeenCalledTimes(2);
      expect(sent.mock.calls.map(([c]) => c.name)).toEqual(['zadd', 'zadd']);
      expect(pipelines).not.toHaveBeenCalled();
    } finally {
      sent.mockRestore();
      pipelines.mockRestore();
    }
  });

  it('runs exactly once more when requests arrive while a run is active, and never overlaps runs of one deal', async () => {
    const p = startPoller(4);
    p.hold();
    await queue.enqueue('1', ['42'], 'webhook');
    await waitFor(() => p.runs.length === 1, 5_000, 'first run to start');
    expect((await queue.pending('1', '42'))!.leased).toBe(true);

    // Three changes land while the first run is reading HubSpot: none may be lost, one follow-up is enough.
    for (let i = 0; i < 3; i++) expect((await queue.enqueue('1', ['42'], 'webhook')).added).toBe(0);
    await sleep(150); // longer than the debounce: a follow-up would have started by now if it could overlap
    expect(p.runs).toHaveLength(1);

    p.release();
    await waitFor(() => p.runs.length === 2 && p.runs[1]!.end !== undefined, 5_000, 'the follow-up run');
    expect(p.runs[1]!.start).toBeGreaterThanOrEqual(p.runs[0]!.end!);
    await sleep(200);
    expect(p.runs).toHaveLength(2);
    expect(await queue.list()).toEqual([]);

    // With everything finished the deal is clean: the next request starts a fresh run.
    expect((await queue.enqueue('1', ['42'], 'webhook')).added).toBe(1);
    await waitFor(() => p.runs.length === 3, 5_000, 'a fresh run');
  });

  it('a request during a run that ends before it is due runs once, after its debounce', async () => {
    const p = startPoller(4);
    p.hold();
    await queue.enqueue('1', ['42'], 'webhook');
    await waitFor(() => p.runs.length === 1, 5_000, 'first run to start');
    await queue.enqueue('1', ['42'], 'webhook');
    p.release(); // at once: the follow-up is not due yet when the run is acked, so it stays
    await waitFor(() => p.runs.length === 2 && p.runs[1]!.end !== undefined, 5_000, 'the follow-up run');
    await sleep(150);
    expect(p.runs).toHaveLength(2);
    expect(await queue.list()).toEqual([]);
  });

  it('keeps a follow-up requested during a failing run: the retry covers it, then nothing is left', async () => {
    const p = startPoller(1, async (_run, n) => {
      if (n === 1) {
        await queue.enqueue('1', ['42'], 'webhook');
        throw new Error('HubSpot 502');
      }
    });
    await queue.enqueue('1', ['42'], 'webhook');
    await waitFor(() => p.runs.filter((r) => r.end).length >= 1, 5_000, 'a run after the failure');
    await sleep(200);
    // The failed run's ack found the member re-scored by the request: it ran once more (with the change), once.
    expect(p.runs).toHaveLength(2);
    expect(await queue.list()).toEqual([]);
  });
});
