import type { Redis } from 'ioredis';
import { NoTokenError } from '../hubspot/client';
import { HubSpotDailyLimitError, HubSpotRequestError } from '../hubspot/errors';
import { causes } from '../hubspot/job-failures';
import { errorSummary, type Logger } from '../log';
import { jobDuration } from '../metrics';
import type { Keys } from '../state/keys';
import { luaScript } from '../state/lua';
import { decodeTimer, isLease, timerExtra, type TimerMeta, type TimerTarget } from './timers';

/** A timer this process claimed: its member, the score it had when claimed (its fire time) and its retries so far. */
export type ClaimedTimer = TimerTarget & { member: string; score: number; attempts: number };

/** Tries of one firing in all, and the first retry's delay (doubled each time): BullMQ's old timer job options. */
export const TIMER_ATTEMPTS = 10;
export const TIMER_BACKOFF_MS = 2_000;

/** What becomes of a timer whose firing failed: fired again at `at` (service clock), or dropped. */
export type RetryPlan = { at: number; attempts: number } | { drop: string };

/**
 * The retry of a failed firing, by the HubSpot error behind it (as hubspot/job-failures.ts decides for jobs):
 * a DAILY limit waits for the portal's reset (spread over a minute) without spending an attempt; a 4xx request
 * error or a portal without tokens is dropped at once (the same request gets the same answer; the deal's next
 * event or sweep decides it afresh); anything else (5xx, network, a 429 storm that outlasted the caller's own
 * retries, a state conflict) is retried with exponential backoff, 10 tries in all over about 17 minutes.
 * `attempts`: failures before this one. `now` is the service clock; `realNow` the wall clock HubSpot's reset
 * time is on.
 */
export function retryPlan(
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
  if (tries >= TIMER_ATTEMPTS) return { drop: `failed ${tries} times` };
  return { at: now + TIMER_BACKOFF_MS * 2 ** (tries - 1), attempts: tries };
}

/**
 * Claims up to ARGV[2] timers due at ARGV[1]: each is re-scored to the lease ARGV[3] (XX: only members still
 * there), so no other process claims it while it fires and it comes back by itself if this process dies.
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
 * Fired timers leave the index, each only if its score is still the lease this process set: a timer rescheduled
 * (or cancelled and re-armed) while it fired has a new score, and stays. ARGV: member, lease pairs.
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

/** Leases of timers still firing moved on (ARGV: member, old lease, new lease triples); 1 per renewed member. */
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
 * A failed firing, if its score is still this lease: ARGV[3] '' drops the timer, else it is re-scored to ARGV[3]
 * with its meta set to ARGV[4] (the attempts so far).
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

type Held = {
  lease: number;
  /** Re-armed for a time already past while it fired: fired again when this firing ends. */
  again?: ClaimedTimer;
  /** Set once the firing is over: what to tell Redis about it. */
  result?: { done: true } | { done: false; plan: RetryPlan; meta: Omit<TimerMeta, 'a'> };
};

/**
 * Every worker process polls the timer index (queue/timers.ts) and fires what is due: one script call claims a
 * page of due timers under a lease, each is fired through `fire` (the service: `fireTimer` -> decide -> settle),
 * and leaves the index only if nobody re-armed it meanwhile. A failure re-scores it for its retry; a process
 * that dies leaves its claims to come back when their lease ends. Idle, it costs one script call per poll.
 */
export class TimerPoller {
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
  private readonly held = new Map<string, Held>();
  private readonly running = new Set<Promise<void>>();
  /** Acks, retries and lease renewals, one at a time and in order (a renewal never races an ack). */
  private io: Promise<void> = Promise.resolve();
  private flushQueued = false;
  private renewTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: TimerPollerOptions) {
    this.due = opts.keys.timersDue();
    this.meta = opts.keys.timersMeta();
    this.pollMs = opts.pollMs ?? 200;
    this.pageSize = opts.pageSize ?? 100;
    this.leaseMs = opts.leaseMs ?? 30_000;
  }

  start(): this {
    this.loop ??= this.run();
    this.renewTimer = setInterval(() => this.enqueueIo(() => this.renew()), Math.max(10, this.leaseMs / 3));
    this.renewTimer.unref();
    return this;
  }

  /** Polls at once (a test moved its clock on). */
  wake(): void {
    if (this.wakeUp) this.wakeUp();
    else this.woken = true;
  }

  /** Claiming, firing, or not yet done telling Redis about a firing (the e2e harness waits for this). */
  busy(): boolean {
    return this.claiming || this.held.size > 0;
  }

  /** Stops claiming, lets every firing in flight finish and records it, like a BullMQ worker's close. */
  async close(): Promise<void> {
    this.closed = true;
    this.wake();
    await this.loop;
    while (this.running.size > 0) await Promise.all(this.running);
    if (this.renewTimer) clearInterval(this.renewTimer);
    this.requestFlush();
    await this.io;
  }

  private async run(): Promise<void> {
    while (!this.closed) {
      const free = this.opts.concurrency - this.running.size;
      if (free <= 0) {
        // Every slot busy: the next firing to end frees one.
        await Promise.race(this.running);
        continue;
      }
      const want = Math.min(this.pageSize, free);
      let claimed: ClaimedTimer[];
      this.claiming = true;
      try {
        claimed = await this.claim(want);
      } catch (err) {
        this.claiming = false;
        this.opts.log.warn({ queue: 'timers', err: errorSummary(err) }, 'could not claim due timers');
        await this.sleep(Math.max(1_000, this.pollMs));
        continue;
      }
      this.claiming = false;
      for (const t of claimed) this.fire(t);
      if (claimed.length < want) await this.sleep(this.pollMs);
    }
  }

  private async claim(n: number): Promise<ClaimedTimer[]> {
    const now = this.opts.clock();
    // A lease ends in .5, a fire time never does: the ack can tell the two apart.
    const lease = Math.floor(now) + this.leaseMs + 0.5;
    const [flat, metas] = (await claimScript(this.opts.redis, [this.due, this.meta], [now, n, lease])) as [
      string[],
      (string | null)[],
    ];
    const out: ClaimedTimer[] = [];
    for (let i = 0; i < flat.length; i += 2) {
      const member = flat[i]!;
      const score = Number(flat[i + 1]);
      const t = decodeTimer(member, metas[i / 2]);
      const already = this.held.get(member);
      if (already) {
        // Still firing here. A lease that ran out meanwhile: that firing ends it under the new lease. A fire time:
        // the firing's own decision re-armed the timer for now, so it fires again once this firing is over.
        already.lease = lease;
        if (!isLease(score) && t) already.again = { ...t, member, score };
        continue;
      }
      if (!t) {
        this.opts.log.error({ queue: 'timers', member }, 'timer cannot be read; dropped');
        this.held.set(member, { lease, result: { done: false, plan: { drop: 'unreadable' }, meta: {} } });
        this.requestFlush();
        continue;
      }
      this.held.set(member, { lease });
      out.push({ ...t, member, score });
    }
    return out;
  }

  private fire(t: ClaimedTimer): void {
    const end = jobDuration.startTimer({ queue: 'timers' });
    const run = (async () => {
      const held = this.held.get(t.member)!;
      try {
        await this.opts.fire(t);
        end({ outcome: 'ok' });
        held.result = { done: true };
      } catch (err) {
        end({ outcome: 'error' });
        const plan = retryPlan(err, t.attempts, this.opts.clock(), this.opts.random);
        const where = { queue: 'timers', portalId: t.portalId, dealId: t.dealId, timerId: t.firing.timerId };
        if ('drop' in plan)
          this.opts.log.error(
            { ...where, err: errorSummary(err), why: plan.drop },
            'timer firing failed; dropped',
          );
        else
          this.opts.log.warn(
            { ...where, attempts: plan.attempts, err: errorSummary(err), retryAt: plan.at },
            'timer firing failed; retrying',
          );
        // A retry keeps what the firing cannot be derived without; its attempts are added to it.
        held.result = { done: false, plan, meta: timerExtra(t.dealId, t.firing) };
      }
      if (held.again) {
        const next = held.again;
        delete held.again;
        delete held.result;
        this.fire(next);
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
      // Left as it is, a claimed timer comes back when its lease ends: at worst it fires twice, and the engine
      // re-checks every firing.
      this.opts.log.warn({ queue: 'timers', err: errorSummary(err) }, 'could not record timer firings'),
    );
  }

  /** Tells Redis about every firing that ended: the done ones in one call, each failure in its own. */
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
        const r = h.result as Extract<Held['result'], { done: false }>;
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

  /** Claims still firing get a new lease, so a slow firing (HubSpot backing off) is not claimed twice. */
  private async renew(): Promise<void> {
    const firing = [...this.held].filter(([, h]) => !h.result);
    if (firing.length === 0) return;
    const lease = Math.floor(this.opts.clock()) + this.leaseMs + 0.5;
    const renewed = (await renewScript(
      this.opts.redis,
      [this.due, this.meta],
      firing.flatMap(([m, h]) => [m, h.lease, lease]),
    )) as number[];
    // One that was not renewed was re-armed or cancelled meanwhile: its old lease makes its ack a no-op.
    firing.forEach(([, h], i) => {
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
