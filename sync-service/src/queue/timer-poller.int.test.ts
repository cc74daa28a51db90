import type { Command } from '@stagekeeper/shared';
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HubSpotUnavailableError } from '../hubspot/errors';
import { silentLogger } from '../log';
import { redisKeys } from '../state/keys';
import { deletePrefix, sleep, testPrefix, testRedis, waitFor } from '../testing/fakes';
import { TIMER_BACKOFF_MS, TimerPoller, type ClaimedTimer } from './timer-poller';
import { TimerQueue } from './timers';

type Schedule = Extract<Command, { type: 'scheduleTimer' }>;
const ENTRY = '900:appointmentscheduled:1700000000000';
const WARNING = `${ENTRY}:warning`;
const MEMBER = `7|${WARNING}`;
const warning = (fireAt: number): Schedule => ({
  type: 'scheduleTimer',
  timerId: WARNING,
  kind: 'warning',
  entryId: ENTRY,
  fireAt,
});
const T0 = 1_800_000_000_000;
const LEASE = 30_000;

let redis: Redis;
let prefix: string;
let keys: ReturnType<typeof redisKeys>;
let now: number;
let timers: TimerQueue;
let pollers: TimerPoller[];
let fired: ClaimedTimer[];
/** What the next firings do; resolves by default. */
let firing: (t: ClaimedTimer) => Promise<unknown>;

/** A deferred promise: a firing held in flight until the test lets it go. */
function gate() {
  let open: () => void = () => undefined;
  let fail: (e: unknown) => void = () => undefined;
  const promise = new Promise<void>((res, rej) => {
    open = res;
    fail = rej;
  });
  return { promise, open, fail };
}

const poller = (concurrency = 10) => {
  const p = new TimerPoller({
    redis,
    keys,
    clock: () => now,
    log: silentLogger,
    concurrency,
    leaseMs: LEASE,
    pollMs: 20,
    fire: async (t) => {
      fired.push(t);
      await firing(t);
    },
  }).start();
  pollers.push(p);
  return p;
};

const score = async (member = MEMBER) => {
  const s = await redis.zscore(keys.timersDue(), member);
  return s === null ? null : Number(s);
};
/** Waits until every poller is done with what it claimed, and nothing due is left unclaimed. */
const idle = () =>
  waitFor(
    async () => (await timers.counts()).waiting === 0 && pollers.every((p) => !p.busy()),
    5_000,
    'pollers idle',
  );

beforeEach(() => {
  redis = testRedis();
  prefix = testPrefix();
  keys = redisKeys(prefix);
  now = T0;
  timers = new TimerQueue(redis, keys, () => now);
  pollers = [];
  fired = [];
  firing = async () => undefined;
});
afterEach(async () => {
  await Promise.all(pollers.map((p) => p.close()));
  await deletePrefix(redis, prefix);
  await redis.quit();
});

describe('timer poller', () => {
  it('fires a timer once its clock reaches the fire time, with the firing the engine asked for, then drops it', async () => {
    const p = poller();
    await timers.schedule('7', '900', warning(T0 + 1_000));
    now = T0 + 999;
    p.wake();
    await sleep(100); // a few polls (every 20 ms): none may fire it early
    await idle();
    expect(fired).toEqual([]);
    expect(await score()).toBe(T0 + 1_000);
    now = T0 + 1_000;
    p.wake();
    await waitFor(() => fired.length === 1, 5_000, 'the firing');
    await idle();
    expect(fired[0]).toEqual({
      member: MEMBER,
      portalId: '7',
      dealId: '900',
      firing: { timerId: WARNING, kind: 'warning', entryId: ENTRY },
      score: T0 + 1_000,
      attempts: 0,
    });
    expect(await score()).toBeNull();
  });

  it('holds a timer under a lease while it fires, so another process does not fire it too', async () => {
    const held = gate();
    firing = () => held.promise;
    poller();
    const other = poller();
    await timers.schedule('7', '900', warning(T0));
    await waitFor(() => fired.length === 1, 5_000, 'the firing');
    expect(await score()).toBe(T0 + LEASE + 0.5);
    other.wake();
    await sleep(100); // a few polls of the other poller (every 20 ms): none may claim it
    expect(fired).toHaveLength(1);
    held.open();
    await idle();
    expect(await score()).toBeNull();
  });

  it('keeps a timer re-armed while it fired (its own decision moved it), and fires it when due', async () => {
    const held = gate();
    firing = () => held.promise;
    const p = poller();
    await timers.schedule('7', '900', warning(T0));
    await waitFor(() => fired.length === 1, 5_000, 'the firing');
    await timers.schedule('7', '900', warning(T0 + 5_000));
    firing = async () => undefined;
    held.open();
    await idle();
    expect(await score()).toBe(T0 + 5_000);
    now = T0 + 5_000;
    p.wake();
    await waitFor(() => fired.length === 2, 5_000, 'the re-armed timer');
    await idle();
    expect(await score()).toBeNull();
  });

  it('fires again a timer re-armed for a time already past while it fired', async () => {
    const held = gate();
    firing = () => held.promise;
    const p = poller();
    await timers.schedule('7', '900', warning(T0));
    await waitFor(() => fired.length === 1, 5_000, 'the firing');
    await timers.schedule('7', '900', warning(T0 - 10));
    p.wake();
    // Claimed by this very process while it still fires: not fired twice at once.
    await waitFor(async () => (await score()) !== T0 - 10, 5_000, 'the re-armed claim');
    expect(fired).toHaveLength(1);
    firing = async () => undefined;
    held.open();
    await waitFor(() => fired.length === 2, 5_000, 'the second firing');
    await idle();
    expect(fired[1]!.score).toBe(T0 - 10);
    expect(await score()).toBeNull();
  });

  it('a timer cancelled while it fires stays cancelled', async () => {
    const held = gate();
    firing = () => held.promise;
    poller();
    await timers.schedule('7', '900', warning(T0));
    await waitFor(() => fired.length === 1, 5_000, 'the firing');
    await timers.cancel('7', WARNING);
    held.open();
    await idle();
    expect(await score()).toBeNull();
    expect(fired).toHaveLength(1);
  });

  it('a claim left by a process that died comes back once its lease has run out', async () => {
    // What a crash leaves: the member re-scored to the dead process's lease.
    await redis.zadd(keys.timersDue(), T0 + LEASE + 0.5, MEMBER);
    const p = poller();
    now = T0 + LEASE;
    p.wake();
    await sleep(100);
    expect(fired).toEqual([]);
    now = T0 + LEASE + 1;
    p.wake();
    await waitFor(() => fired.length === 1, 5_000, 'the orphaned timer');
    await idle();
    expect(await score()).toBeNull();
  });

  it('a failed firing is retried with a growing backoff, its attempts kept, and forgotten once it fires', async () => {
    firing = async () => {
      throw new HubSpotUnavailableError({
        portalId: '7',
        operation: 'deals.batch.read',
        attempts: 3,
        lastFailure: '503',
        status: 503,
      });
    };
    const p = poller();
    await timers.schedule('7', '900', warning(T0));
    await waitFor(async () => (await score()) === T0 + TIMER_BACKOFF_MS, 5_000, 'the first retry');
    expect(await redis.hget(keys.timersMeta(), MEMBER)).toBe('{"a":1}');
    now = T0 + TIMER_BACKOFF_MS;
    p.wake();
    await waitFor(async () => (await score()) === now + 2 * TIMER_BACKOFF_MS, 5_000, 'the second retry');
    expect(fired.map((f) => f.attempts)).toEqual([0, 1]);
    firing = async () => undefined;
    now += 2 * TIMER_BACKOFF_MS;
    p.wake();
    await waitFor(() => fired.length === 3, 5_000, 'the third try');
    await idle();
    expect(fired[2]!.attempts).toBe(2);
    expect(await score()).toBeNull();
    expect(await redis.exists(keys.timersMeta())).toBe(0);
  });

  it('fires no more at once than its concurrency, and close lets the firings in flight finish and records them', async () => {
    const held = gate();
    firing = () => held.promise;
    const p = poller(2);
    const cmds = [0, 1, 2, 3, 4].map((l) => ({
      ...warning(T0),
      timerId: `${ENTRY}:level:${l}`,
      kind: 'escalation' as const,
      level: l,
    }));
    await timers.apply('7', '900', cmds);
    await waitFor(() => fired.length === 2, 5_000, 'two firings');
    p.wake();
    await waitFor(async () => (await timers.counts()).waiting === 3, 5_000, 'the rest left due');
    const closing = p.close();
    held.open();
    await closing;
    expect(fired).toHaveLength(2);
    expect(await redis.zcard(keys.timersDue())).toBe(3);
    // Another process takes the rest.
    firing = async () => undefined;
    poller();
    await waitFor(() => fired.length === 5, 5_000, 'the rest');
    await idle();
    expect(await redis.zcard(keys.timersDue())).toBe(0);
  });
});
