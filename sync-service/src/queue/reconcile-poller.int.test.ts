import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DecideDeps } from '../decide';
import { HubSpotDailyLimitError, HubSpotRequestError } from '../hubspot/errors';
import { silentLogger } from '../log';
import { redisKeys, type Keys } from '../state/keys';
import { deletePrefix, testPrefix, testRedis, waitFor } from '../testing/fakes';
import { QUEUE_NAMES } from './job-ids';
import { LegacyReconcileJobs, startLegacyReconcileWorker } from './legacy-reconcile-jobs';
import { DealProcessingError, reconcileMember, ReconcileQueue } from './reconcile';
import { ReconcilePoller, type ReconcileTarget } from './reconcile-poller';

const T0 = 1_700_000_000_000;
const LEASE = 5_000;

let redis: Redis;
let workerRedis: Redis;
let prefix: string;
let keys: Keys;
let now: number;
let queue: ReconcileQueue;
let pollers: ReconcilePoller[];
let runs: (ReconcileTarget & { attempts: number })[];
let outcome: (t: ReconcileTarget, n: number) => Promise<void>;

const poller = () => {
  const p = new ReconcilePoller({
    redis: workerRedis,
    keys,
    log: silentLogger,
    concurrency: 10,
    queue,
    clock: () => now,
    leaseMs: LEASE,
    pollMs: 20,
    random: () => 0,
    run: async (t) => {
      runs.push({ portalId: t.portalId, dealId: t.dealId, attempts: t.attempts });
      await outcome(t, runs.length);
    },
  }).start();
  pollers.push(p);
  return p;
};
const score = async (dealId = '42') => {
  const s = await redis.zscore(keys.reconcileDue(), reconcileMember('1', dealId));
  return s === null ? null : Number(s);
};
const idle = () =>
  waitFor(
    async () => (await queue.counts(now)).waiting === 0 && pollers.every((p) => !p.busy()),
    5_000,
    'pollers idle',
  );
const refused = () => new HubSpotRequestError({ portalId: '1', operation: 'x', status: 400, detail: 'bad' });

beforeEach(() => {
  redis = testRedis();
  workerRedis = redis.duplicate();
  prefix = testPrefix();
  keys = redisKeys(prefix);
  now = T0;
  queue = new ReconcileQueue(redis, keys, 0, () => now);
  pollers = [];
  runs = [];
  outcome = async () => undefined;
});
afterEach(async () => {
  await Promise.all(pollers.map((p) => p.close()));
  await deletePrefix(redis, prefix);
  await workerRedis.quit();
  await redis.quit();
});

describe('ReconcilePoller', () => {
  it('takes back a claim whose process died once its lease ends, and not before', async () => {
    await queue.enqueue('1', ['42'], 'webhook');
    // A process claimed it and died: its lease (ending in .5) is all that is left.
    await redis.zadd(keys.reconcileDue(), 'XX', T0 + LEASE + 0.5, reconcileMember('1', '42'));
    const p = poller();
    now = T0 + LEASE - 1;
    p.wake();
    await idle();
    expect(runs).toHaveLength(0);
    now = T0 + LEASE + 1;
    p.wake();
    await waitFor(() => runs.length === 1, 5_000, 'the run after the lease');
    await idle();
    expect(await score()).toBeNull();
  });

  it('runs once more for a request made as a run ends, whichever of its ack and the next claim comes first', async () => {
    // The request lands at the end of the run and the poller is woken at once: its claim may reach Redis before
    // the finished run's ack. The follow-up must run either way, and nothing may be left leased.
    outcome = async (_t, n) => {
      if (n !== 1) return;
      await queue.enqueue('1', ['42'], 'webhook');
      pollers[0]!.wake();
    };
    await queue.enqueue('1', ['42'], 'webhook');
    poller();
    await waitFor(() => runs.length === 2, 5_000, 'the follow-up run');
    await idle();
    expect(runs).toHaveLength(2);
    expect(await score()).toBeNull();
  });

  it('a wake timer that fires before its due time on the poller clock waits for it, not for the next poll', async () => {
    // libuv may fire a timer a little early against Date.now (it counts from the loop's cached time); here the
    // poller's clock simply stands still past the timer. Polls are an hour apart: only the wake can run it.
    const p = new ReconcilePoller({
      redis: workerRedis,
      keys,
      log: silentLogger,
      concurrency: 1,
      queue,
      clock: () => now,
      pollMs: 3_600_000,
      run: async (t) => {
        runs.push({ portalId: t.portalId, dealId: t.dealId, attempts: t.attempts });
      },
    }).start();
    pollers.push(p);
    await redis.zadd(keys.reconcileDue(), T0 + 30, reconcileMember('1', '42'));
    p.wakeAt(T0 + 30);
    await new Promise((r) => setTimeout(r, 150)); // the timer fired at least once, with the clock still at T0
    expect(runs).toEqual([]);
    now = T0 + 30;
    await waitFor(async () => runs.length === 1, 5_000, 'the woken run');
  });

  it('retries a failed run with backoff and its attempts kept, then succeeds', async () => {
    outcome = async (_t, n) => {
      if (n <= 2) throw new DealProcessingError('1', [{ dealId: '42', error: new Error('HubSpot 502') }]);
    };
    await queue.enqueue('1', ['42'], 'webhook');
    const p = poller();
    await waitFor(() => runs.length === 1, 5_000, 'the first run');
    await idle();
    // Backoff as the durable jobs': 1 s after the first failure.
    expect(await score()).toBe(T0 + 1_000);
    expect(JSON.parse((await redis.hget(keys.reconcileMeta(), reconcileMember('1', '42')))!)).toEqual({
      a: 1,
    });
    now = T0 + 1_000;
    p.wake();
    await waitFor(() => runs.length === 2, 5_000, 'the retry');
    await idle();
    expect(await score()).toBe(T0 + 1_000 + 2_000);
    now = T0 + 3_000;
    p.wake();
    await waitFor(() => runs.length === 3, 5_000, 'the second retry');
    await idle();
    expect(runs.map((r) => r.attempts)).toEqual([0, 1, 2]);
    expect(await score()).toBeNull();
    expect(await redis.exists(keys.reconcileMeta())).toBe(0);
    expect(await queue.giveUps()).toEqual([]);
  });

  it('gives up after eight tries, and records it where operators look', async () => {
    outcome = async () => {
      throw new Error('HubSpot 502');
    };
    await queue.enqueue('1', ['42'], 'webhook');
    const p = poller();
    for (let n = 1; n <= 8; n++) {
      await waitFor(() => runs.length === n, 5_000, `run ${n}`);
      await idle();
      const s = await score();
      if (n < 8) expect(s).toBe(now + 1_000 * 2 ** (n - 1));
      if (s !== null) now = s;
      p.wake();
    }
    await idle();
    expect(runs).toHaveLength(8);
    expect(await score()).toBeNull();
    expect(await queue.giveUps()).toEqual([
      { portalId: '1', dealId: '42', at: now, attempts: 8, why: 'failed 8 times' },
    ]);
    expect((await queue.getJobCounts()).failed).toBe(1);
  });

  it('gives up a run HubSpot refused (4xx) at once; a daily limit waits for the reset without an attempt', async () => {
    outcome = async (t) => {
      if (t.dealId === '42') throw refused();
      throw new HubSpotDailyLimitError({ portalId: '1', operation: 'x', retryAt: Date.now() + 3_600_000 });
    };
    await queue.enqueue('1', ['42', '43'], 'webhook');
    poller();
    await waitFor(() => runs.length === 2, 5_000, 'both runs');
    await idle();
    expect(await score('42')).toBeNull();
    expect((await queue.giveUps()).map((g) => [g.dealId, g.why])).toEqual([
      ['42', 'HubSpot refused the request'],
    ]);
    const daily = (await score('43'))!;
    expect(daily).toBeGreaterThan(T0 + 3_500_000);
    expect(daily).toBeLessThan(T0 + 3_700_000);
    expect(await redis.hget(keys.reconcileMeta(), reconcileMember('1', '43'))).toBe('{"a":0}');
  });

  it('drops a member that is not a portal|deal pair, without running it', async () => {
    await redis.zadd(keys.reconcileDue(), T0, 'nonsense');
    poller();
    await waitFor(async () => (await redis.zcard(keys.reconcileDue())) === 0, 5_000, 'the drop');
    expect(runs).toHaveLength(0);
  });
});

describe('legacy BullMQ reconcile jobs', () => {
  it('are found and drained by the old worker', async () => {
    const old = new Queue(QUEUE_NAMES.reconcile, { connection: redis, prefix: keys.bullPrefix() });
    await old.add('reconcile', { portalId: '1', dealId: '42', source: 'webhook' }, { jobId: 'rc-1-42-x' });
    const legacy = new LegacyReconcileJobs(redis, keys.bullPrefix(), silentLogger);
    const asked: string[] = [];
    // The run asks for the playbook first; none here, so each run ends as `no_playbook`.
    const deps = {
      playbooks: {
        current: async (portalId: string) => {
          asked.push(portalId);
          return null;
        },
      },
      log: silentLogger,
    } as unknown as DecideDeps;
    let worker: ReturnType<typeof startLegacyReconcileWorker> | undefined;
    const blocking = workerRedis.duplicate({ maxRetriesPerRequest: null });
    try {
      await legacy.start(() => {
        worker ??= startLegacyReconcileWorker(deps, {
          connection: blocking,
          prefix: keys.bullPrefix(),
          concurrency: 1,
          log: silentLogger,
        });
      });
      expect(legacy.present).toBe(true);
      expect(worker).toBeDefined();
      await waitFor(async () => (await old.count()) === 0, 5_000, 'the legacy job to run');
      expect(asked).toEqual(['1']);
      expect(await legacy.refresh()).toBe(false);
    } finally {
      await worker?.close();
      await legacy.close();
      await old.close();
      await blocking.quit();
    }
  });
});
