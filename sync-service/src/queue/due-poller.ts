import type { Redis } from 'ioredis';
import { NoTokenError } from '../hubspot/client';
import { HubSpotDailyLimitError, HubSpotRequestError } from '../hubspot/errors';
import { causes } from '../hubspot/job-failures';
import { errorSummary, type Logger } from '../log';
import { jobDuration } from '../metrics';
import { luaScript } from '../state/lua';

/**
 * The claim / lease / ack mechanics of a due set: a sorted set whose member is one piece of work, scored by when
 * it is due (an integer, epoch ms) or, while a process runs it, by that process's lease (a time ending in .5).
 * A meta hash beside it holds, per member and only when there is something to hold, a JSON object: what the
 * member cannot say itself and `a`, the failed attempts so far. Used by the SLA timers (timer-poller.ts) and the
 * reconcile requests (reconcile-poller.ts).
 */

/** A lease ends in .5; a due time is whole milliseconds. */
export const isLease = (score: number) => !Number.isInteger(score);

/**
 * A due set's members due by `now` (waiting) and the rest (delayed: later, retrying, or held under a lease: a
 * lease's score lies ahead too), as the queue-depth gauge shows them.
 */
export async function dueCounts(
  redis: Redis,
  due: string,
  now: number,
): Promise<{ waiting: number; delayed: number }> {
  const [waiting, total] = await Promise.all([redis.zcount(due, '-inf', now), redis.zcard(due)]);
  return { waiting, delayed: total - waiting };
}

/** What becomes of a member whose run failed: run again at `at` (the poller's clock), or dropped. */
export type RetryPlan = { at: number; attempts: number } | { drop: string };

/** How often and how fast a failed run is retried. */
export type RetryPolicy = { attempts: number; backoffMs: number };

/**
 * The retry of a failed run, by the HubSpot error behind it (as hubspot/job-failures.ts decides for jobs): a
 * DAILY limit waits for the portal's reset (spread over a minute) without spending an attempt; a 4xx request
 * error or a portal without tokens is dropped at once (the same request gets the same answer; the deal's next
 * event or sweep decides it afresh); anything else (5xx, network, a 429 storm that outlasted the caller's own
 * retries, a state conflict) is retried with exponential backoff, `policy.attempts` tries in all.
 * `attempts`: failures before this one. `now` is the poller's clock; `realNow` the wall clock HubSpot's reset
 * time is on.
 */
export function planRetry(
  policy: RetryPolicy,
  err: unknown,
  attempts: number,
  now: number,
  random: () => number = Math.random,
  realNow: number = Date.now(),
): RetryPlan {
  const all = causes(err);
  const daily = all.find((e): e is HubSpotDailyLimitError => e instanceof HubSpotDailyLimitError);
  if (daily) {
    const reset = (daily.retryAt ?? realNow + 3_600_000) + Math.floor(random() * 60_000);
    return { at: now + Math.max(1_000, reset - realNow), attempts };
  }
  if (all.length > 0 && all.every((e) => e instanceof HubSpotRequestError || e instanceof NoTokenError))
    return { drop: 'HubSpot refused the request' };
  const tries = attempts + 1;
  if (tries >= policy.attempts) return { drop: `failed ${tries} times` };
  return { at: now + policy.backoffMs * 2 ** (tries - 1), attempts: tries };
}

/**
 * Claims up to ARGV[2] members due at ARGV[1]: each is re-scored to the lease ARGV[3] (XX: only members still
 * there), so no other process claims it while it runs and it comes back by itself if this process dies.
 * Returns the claimed members with their scores, and their meta (or false) when the meta hash exists.
 */
const claimScript = luaScript(`
local got = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[2]))
if #got == 0 then return {{}, {}} end
local leased, members = {}, {}
for i = 1, #got, 2 do
  leased[#leased + 1] = ARGV[3]
  leased[#leased + 1] = got[i]
  members[#members + 1] = got[i]
end
redis.call('ZADD', KEYS[1], 'XX', unpack(leased))
local metas = {}
if redis.call('EXISTS', KEYS[2]) == 1 then metas = redis.call('HMGET', KEYS[2], unpack(members)) end
return {got, metas}
`);

/** The claim script's SHA1: an idle poll in MONITOR output (the commands-per-transition test leaves it out). */
export const CLAIM_SCRIPT_SHA = claimScript.sha;

/**
 * Members that ran leave the set, each only if its score is still the lease this process set: a member re-scored
 * (rescheduled, or requested again) while it ran has a new score, and stays. ARGV: member, lease pairs.
 */
const ackScript = luaScript(`
local gone = {}
for i = 1, #ARGV, 2 do
  local s = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if s and tonumber(s) == tonumber(ARGV[i + 1]) then gone[#gone + 1] = ARGV[i] end
end
if #gone > 0 then
  redis.call('ZREM', KEYS[1], unpack(gone))
  if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('HDEL', KEYS[2], unpack(gone)) end
end
return #gone
`);

/** Leases of members still running moved on (ARGV: member, old lease, new lease triples); 1 per renewed member. */
const renewScript = luaScript(`
local out = {}
for i = 1, #ARGV, 3 do
  local s = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if s and tonumber(s) == tonumber(ARGV[i + 1]) then
    redis.call('ZADD', KEYS[1], 'XX', ARGV[i + 2], ARGV[i])
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
`);

/**
 * A failed run, if its score is still this lease: ARGV[3] '' drops the member, else it is re-scored to ARGV[3]
 * with its meta set to ARGV[4] (the attempts so far). Returns 1 when the member was still this run's.
 */
const failScript = luaScript(`
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not s or tonumber(s) ~= tonumber(ARGV[2]) then return 0 end
if ARGV[3] == '' then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
else
  redis.call('ZADD', KEYS[1], 'XX', ARGV[3], ARGV[1])
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[4])
end
return 1
`);

/** A member this process claimed: what `decode` made of it, its member, its score when claimed, its retries. */
export type Claimed<T> = T & { member: string; score: number; attempts: number };

export type DuePollerOptions<T> = {
  redis: Redis;
  /** The due set and its meta hash. */
  keys: { due: string; meta: string };
  /** For logs and the job-duration metric. */
  queue: string;
  /** The clock due times and leases are on. */
  clock: () => number;
  log: Logger;
  /** Runs in flight at most (the workers' concurrency). */
  concurrency: number;
  /** A member and its meta (JSON or null) read back; undefined when it cannot be (it is dropped, logged). */
  decode: (member: string, meta: string | null | undefined) => (T & { attempts: number }) | undefined;
  run: (item: Claimed<T>) => Promise<unknown>;
  retry: (err: unknown, attempts: number, now: number) => RetryPlan;
  /** What a retry keeps in the meta hash besides its attempts. */
  keep?: (item: Claimed<T>) => Record<string, unknown>;
  /** Log fields naming the item (never property values). */
  describe: (item: Claimed<T>) => Record<string, unknown>;
  /** Told of every run given up (after the log line), e.g. to keep it where operators look. */
  onGiveUp?: (item: Claimed<T>, why: string, err: unknown) => Promise<void>;
  /** Wait between polls that found less than a page. */
  pollMs?: number;
  /** Members claimed per poll at most; a full page polls again at once. */
  pageSize?: number;
  /** How long a claim holds (renewed every third of it while the run goes on). */
  leaseMs?: number;
};

type Held<T> = {
  lease: number;
  /** Re-scored to a due time already past while it ran: run again when this run ends. */
  again?: Claimed<T>;
  /** Set once the run is over: what to tell Redis about it. */
  result?: { done: true } | { done: false; plan: RetryPlan; meta: Record<string, unknown> };
};

/**
 * Every worker process polls the due set and runs what is due: one script call claims a page of due members under
 * a lease, each is run through `run`, and leaves the set only if nobody re-scored it meanwhile. A failure
 * re-scores it for its retry; a process that dies leaves its claims to come back when their lease ends. Idle, it
 * costs one script call per poll.
 */
export class DuePoller<T> {
  private readonly due: string;
  private readonly meta: string;
  private readonly pollMs: number;
  private readonly pageSize: number;
  private readonly leaseMs: number;
  private closed = false;
  private loop: Promise<void> | undefined;
  private claiming = false;
  private woken = false;
  private wakeUp: (() => void) | undefined;
  private readonly held = new Map<string, Held<T>>();
  private readonly running = new Set<Promise<void>>();
  /** Acks, retries and lease renewals, one at a time and in order (a renewal never races an ack). */
  private io: Promise<void> = Promise.resolve();
  private flushQueued = false;
  private renewTimer: NodeJS.Timeout | undefined;
  private wakeTimer: NodeJS.Timeout | undefined;
  private wakeTimerAt = 0;

  constructor(private readonly opts: DuePollerOptions<T>) {
    this.due = opts.keys.due;
    this.meta = opts.keys.meta;
    this.pollMs = opts.pollMs ?? 200;
    this.pageSize = opts.pageSize ?? 100;
    this.leaseMs = opts.leaseMs ?? 30_000;
  }

  start(): this {
    this.loop ??= this.poll();
    this.renewTimer = setInterval(() => this.enqueueIo(() => this.renew()), Math.max(10, this.leaseMs / 3));
    this.renewTimer.unref();
    return this;
  }

  /** Polls at once (a test moved its clock on, or work was just added). */
  wake(): void {
    if (this.wakeUp) this.wakeUp();
    else this.woken = true;
  }

  /**
   * Polls at `at` (this poller's clock) unless a poll is already set for earlier: a lone request added by this
   * process runs when due rather than up to a poll interval later. Requests falling due after that one wait for
   * the next poll and are claimed together, so their runs share HubSpot batch calls (the cost bench's steady
   * traffic: 1.5 calls and ~8 ms CPU per move instead of 4 and ~13.6 ms with a wake at every due time).
   */
  wakeAt(at: number): void {
    if (this.closed || (this.wakeTimer && this.wakeTimerAt <= at)) return;
    clearTimeout(this.wakeTimer);
    this.wakeTimerAt = at;
    this.wakeTimer = setTimeout(
      () => {
        this.wakeTimer = undefined;
        // A timer may fire a little before `at` on this clock (libuv counts from the loop's cached time, stale
        // by the length of the tick that set it): a claim then would find nothing due and sleep a whole poll.
        if (this.opts.clock() < at) this.wakeAt(at);
        else this.wake();
      },
      Math.max(0, at - this.opts.clock()),
    );
    this.wakeTimer.unref();
  }

  /** Claiming, running, or not yet done telling Redis about a run (the e2e harness waits for this). */
  busy(): boolean {
    return this.claiming || this.held.size > 0;
  }

  /** Stops claiming, lets every run in flight finish and records it, like a BullMQ worker's close. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.wakeTimer);
    this.wake();
    await this.loop;
    while (this.running.size > 0) await Promise.all(this.running);
    if (this.renewTimer) clearInterval(this.renewTimer);
    this.requestFlush();
    await this.io;
  }

  private async poll(): Promise<void> {
    while (!this.closed) {
      const free = this.opts.concurrency - this.running.size;
      if (free <= 0) {
        // Every slot busy: the next run to end frees one.
        await Promise.race(this.running);
        continue;
      }
      const want = Math.min(this.pageSize, free);
      let claimed: Claimed<T>[];
      this.claiming = true;
      try {
        claimed = await this.claim(want);
      } catch (err) {
        this.claiming = false;
        this.opts.log.warn({ queue: this.opts.queue, err: errorSummary(err) }, 'could not claim due work');
        await this.sleep(Math.max(1_000, this.pollMs));
        continue;
      }
      this.claiming = false;
      for (const t of claimed) this.start1(t);
      if (claimed.length < want) await this.sleep(this.pollMs);
    }
  }

  private async claim(n: number): Promise<Claimed<T>[]> {
    const now = this.opts.clock();
    // A lease ends in .5, a due time never does: the ack can tell the two apart.
    const lease = Math.floor(now) + this.leaseMs + 0.5;
    const [flat, metas] = (await claimScript(this.opts.redis, [this.due, this.meta], [now, n, lease])) as [
      string[],
      (string | null)[],
    ];
    const out: Claimed<T>[] = [];
    for (let i = 0; i < flat.length; i += 2) {
      const member = flat[i]!;
      const score = Number(flat[i + 1]);
      const t = this.opts.decode(member, metas[i / 2]);
      const already = this.held.get(member);
      // A run that is over but not yet recorded is left out: this claim is a new run (the member was re-scored
      // after it, or its lease ran out), and that run's record, now stale, is dropped with it (flush only records
      // what the map still holds; its ack or retry would no-op on the new lease anyway). Updating its lease
      // instead would let the record miss the new lease and leave the member leased, run by nobody, until the
      // lease ran out.
      if (already && !already.result) {
        // Still running here. A lease that ran out meanwhile: that run ends it under the new lease. A due time:
        // the member was re-scored (re-armed, requested again) for now, so it runs again once this run is over.
        already.lease = lease;
        if (!isLease(score) && t) already.again = { ...t, member, score };
        continue;
      }
      if (!t) {
        this.opts.log.error({ queue: this.opts.queue, member }, 'due member cannot be read; dropped');
        this.held.set(member, { lease, result: { done: false, plan: { drop: 'unreadable' }, meta: {} } });
        this.requestFlush();
        continue;
      }
      this.held.set(member, { lease });
      out.push({ ...t, member, score });
    }
    return out;
  }

  private start1(t: Claimed<T>): void {
    const end = jobDuration.startTimer({ queue: this.opts.queue });
    const run = (async () => {
      const held = this.held.get(t.member)!;
      try {
        await this.opts.run(t);
        end({ outcome: 'ok' });
        held.result = { done: true };
      } catch (err) {
        end({ outcome: 'error' });
        const plan = this.opts.retry(err, t.attempts, this.opts.clock());
        const where = { queue: this.opts.queue, ...this.opts.describe(t) };
        if ('drop' in plan) {
          this.opts.log.error({ ...where, err: errorSummary(err), why: plan.drop }, 'run failed; dropped');
          await this.opts
            .onGiveUp?.(t, plan.drop, err)
            .catch((e: unknown) =>
              this.opts.log.warn({ ...where, err: errorSummary(e) }, 'give-up not recorded'),
            );
        } else
          this.opts.log.warn(
            { ...where, attempts: plan.attempts, err: errorSummary(err), retryAt: plan.at },
            'run failed; retrying',
          );
        // A retry keeps what the run cannot be derived without; its attempts are added to it.
        held.result = { done: false, plan, meta: this.opts.keep?.(t) ?? {} };
      }
      if (held.again) {
        const next = held.again;
        delete held.again;
        delete held.result;
        this.start1(next);
        return;
      }
      this.requestFlush();
    })();
    this.running.add(run);
    void run.finally(() => this.running.delete(run));
  }

  private requestFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    this.enqueueIo(async () => {
      this.flushQueued = false;
      await this.flush();
    });
  }

  private enqueueIo(op: () => Promise<void>): void {
    this.io = this.io.then(op).catch((err: unknown) =>
      // Left as it is, a claimed member comes back when its lease ends: at worst it runs twice, and every run
      // decides afresh on what it reads.
      this.opts.log.warn(
        { queue: this.opts.queue, err: errorSummary(err) },
        'could not record finished runs',
      ),
    );
  }

  /** Tells Redis about every run that ended: the done ones in one call, each failure in its own. */
  private async flush(): Promise<void> {
    const ended = [...this.held].filter(([, h]) => h.result);
    if (ended.length === 0) return;
    const done = ended.filter(([, h]) => h.result!.done);
    const failed = ended.filter(([, h]) => !h.result!.done);
    const keys = [this.due, this.meta];
    try {
      if (done.length > 0)
        await ackScript(
          this.opts.redis,
          keys,
          done.flatMap(([m, h]) => [m, h.lease]),
        );
      for (const [member, h] of failed) {
        const r = h.result as Extract<Held<T>['result'], { done: false }>;
        const args =
          'drop' in r.plan
            ? [member, h.lease, '', '']
            : [member, h.lease, Math.ceil(r.plan.at), JSON.stringify({ ...r.meta, a: r.plan.attempts })];
        await failScript(this.opts.redis, keys, args);
      }
    } finally {
      // Held until Redis has heard (busy() stays true meanwhile); a record that failed is left to the lease.
      for (const [member, h] of ended) if (this.held.get(member) === h) this.held.delete(member);
    }
  }

  /** Claims still running get a new lease, so a slow run (HubSpot backing off) is not claimed twice. */
  private async renew(): Promise<void> {
    const running = [...this.held].filter(([, h]) => !h.result);
    if (running.length === 0) return;
    const lease = Math.floor(this.opts.clock()) + this.leaseMs + 0.5;
    const renewed = (await renewScript(
      this.opts.redis,
      [this.due, this.meta],
      running.flatMap(([m, h]) => [m, h.lease, lease]),
    )) as number[];
    // One that was not renewed was re-scored or removed meanwhile: its old lease makes its ack a no-op.
    running.forEach(([, h], i) => {
      if (renewed[i] === 1) h.lease = lease;
    });
  }

  private sleep(ms: number): Promise<void> {
    if (this.woken || this.closed) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        resolve();
      };
      const timer = setTimeout(finish, ms);
      this.wakeUp = finish;
    });
  }
}
