import type { Redis } from 'ioredis';
import type { Logger } from '../log';
import type { Keys } from '../state/keys';
import { DuePoller, planRetry, type Claimed, type RetryPlan } from './due-poller';
import { decodeTimer, timerExtra, type TimerTarget } from './timers';

export { CLAIM_SCRIPT_SHA, type RetryPlan } from './due-poller';

/** A timer this process claimed: its member, the score it had when claimed (its fire time) and its retries so far. */
export type ClaimedTimer = Claimed<TimerTarget>;

/** Tries of one firing in all, and the first retry's delay (doubled each time): BullMQ's old timer job options. */
export const TIMER_ATTEMPTS = 10;
export const TIMER_BACKOFF_MS = 2_000;

/**
 * The retry of a failed firing (due-poller.ts `planRetry`): 10 tries in all over about 17 minutes, a daily
 * limit waiting for the reset, a 4xx dropped. `now` is the service clock; `realNow` the wall clock.
 */
export const retryPlan = (
  err: unknown,
  attempts: number,
  now: number,
  random: () => number = Math.random,
  realNow: number = Date.now(),
): RetryPlan =>
  planRetry({ attempts: TIMER_ATTEMPTS, backoffMs: TIMER_BACKOFF_MS }, err, attempts, now, random, realNow);

export type TimerPollerOptions = {
  redis: Redis;
  keys: Keys;
  /** The service clock: fire times and leases are on it (the demo's fast clock, a test's manual one). */
  clock: () => number;
  log: Logger;
  /** Firings in flight at most (the workers' concurrency). */
  concurrency: number;
  fire: (timer: ClaimedTimer) => Promise<unknown>;
  /** Wait between polls that found less than a page; 200 ms (the timers bench holds lateness p99 < 1 s). */
  pollMs?: number;
  /** Timers claimed per poll at most; a full page polls again at once. */
  pageSize?: number;
  /** How long a claim holds (renewed every third of it while the firing runs). */
  leaseMs?: number;
  random?: () => number;
};

/**
 * Every worker process polls the timer index (queue/timers.ts) and fires what is due (due-poller.ts: claimed
 * under a lease, acked unless re-armed meanwhile, retried on failure), each through `fire` (the service:
 * `fireTimer` -> decide -> settle). A timer re-armed for a time already past while it fires fires again after.
 */
export class TimerPoller extends DuePoller<TimerTarget> {
  constructor(opts: TimerPollerOptions) {
    super({
      redis: opts.redis,
      keys: { due: opts.keys.timersDue(), meta: opts.keys.timersMeta() },
      queue: 'timers',
      clock: opts.clock,
      log: opts.log,
      concurrency: opts.concurrency,
      decode: decodeTimer,
      run: opts.fire,
      retry: (err, attempts, now) => retryPlan(err, attempts, now, opts.random),
      // A retry keeps what the firing cannot be derived without.
      keep: (t) => timerExtra(t.dealId, t.firing),
      describe: (t) => ({ portalId: t.portalId, dealId: t.dealId, timerId: t.firing.timerId }),
      ...(opts.pollMs !== undefined ? { pollMs: opts.pollMs } : {}),
      ...(opts.pageSize !== undefined ? { pageSize: opts.pageSize } : {}),
      ...(opts.leaseMs !== undefined ? { leaseMs: opts.leaseMs } : {}),
    });
  }
}
