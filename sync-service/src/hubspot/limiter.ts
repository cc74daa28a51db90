import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { redisKeys, type Keys } from '../state/keys';
import { luaScript } from '../state/lua';

/**
 * HubSpot's burst limits are per app per account, and every worker process shares them, so the window lives in
 * Redis: a sliding-window log (one sorted-set member per call) updated by one Lua script, keyed per portal. Search
 * has its own bucket in HubSpot and here.
 */

export type Bucket = 'default' | 'search';

/**
 * Who is waiting: a person (the deal card, the settings page) or bulk work (workers, sweeps). Bulk work may
 * use the window only up to `max - reserve`, so a card read made during a bulk move finds a free slot at once
 * instead of queueing behind hundreds of jobs (the priority lane); while no card has read for a window, the
 * reserve shrinks to a slot or two (idleReserve). The reserve grows with use: bulk work leaves
 * free as many slots as interactive calls took in the last window (up to half of it; bulk always keeps a
 * quarter, so a move still ends under heavy card traffic). And bulk work yields: while interactive
 * calls wait for the window, each is owed a slot before bulk work takes one (issue #18: with a fixed reserve,
 * card reads beyond it raced the bulk waiters for every freed slot and waited seconds).
 */
export type Lane = 'interactive' | 'bulk';

/**
 * `slices`: bulk work spreads over the window, at most its share / slices per windowMs / slices. A window
 * filled in one burst empties in one burst a window later, so a card read arriving just after it found no slot
 * for up to a whole window; spread, slots free up every slice. Absent: bulk may take its share at once.
 */
export type Window = { max: number; windowMs: number; slices?: number };
export type LimiterPlan = Record<Bucket, Window>;

const SEARCH: Window = { max: 5, windowMs: 1_000 };

/** Burst limits per HubSpot plan (hubspot-api-facts §1). The search bucket is 5/s for every plan. */
export const PLANS = {
  privateAppStarter: { default: { max: 100, windowMs: 10_000 }, search: SEARCH },
  privateAppProfessional: { default: { max: 190, windowMs: 10_000 }, search: SEARCH },
  privateAppEnterprise: { default: { max: 190, windowMs: 10_000 }, search: SEARCH },
  apiLimitIncrease: { default: { max: 250, windowMs: 10_000 }, search: SEARCH },
  publicApp: { default: { max: 110, windowMs: 10_000 }, search: SEARCH },
} as const satisfies Record<string, LimiterPlan>;

/**
 * The plan the service runs with for a burst limit per 10 s: 5 % below it, because our window and HubSpot's
 * never line up exactly and one 429 pauses every worker of the portal for a whole window (measured: 1.84x the
 * floor at 190/10 s, 1.03x at 180). OAuth apps get 110 per installing account, private apps their plan's.
 */
export function burstPlan(perTenSeconds: number): LimiterPlan {
  return {
    default: { max: Math.max(1, Math.floor(perTenSeconds * 0.95)), windowMs: 10_000, slices: 10 },
    search: SEARCH,
  };
}

/** Slots of a window bulk work leaves for interactive calls. */
export const interactiveReserve = (max: number) => (max < 2 ? 0 : Math.max(1, Math.floor(max * 0.1)));

/**
 * Slots bulk work leaves free while no interactive call was made or awaited in the last window: enough for the
 * first card read to go out at once; that read makes the full reserve apply. Holding the whole reserve for cards
 * nobody reads cost every bulk move a tenth of its pace (issue #18).
 */
export const idleReserve = (max: number) =>
  Math.min(interactiveReserve(max), Math.max(1, Math.floor(max / 50)));

/** The portal's daily quota is spent (a DAILY 429 or `X-HubSpot-RateLimit-Daily-Remaining: 0`) until `retryAt`. */
export class DailyLimitBlocked extends Error {
  override readonly name = 'DailyLimitBlocked';
  constructor(readonly retryAt: number) {
    super(`daily HubSpot API quota spent until ${new Date(retryAt).toISOString()}`);
  }
}

/** An interactive call could not get a slot before its deadline (a person is waiting; the caller answers otherwise). */
export class LaneBusy extends Error {
  override readonly name = 'LaneBusy';
  constructor(readonly waitMs: number) {
    super(`no HubSpot rate slot within the caller's deadline (next in ${waitMs} ms)`);
  }
}

export interface RateLimiter {
  /**
   * Resolves when a call may be made now; waits while the window is full. Rejects with DailyLimitBlocked while
   * the portal's daily quota is spent (no call would succeed before HubSpot's reset), and with LaneBusy when
   * no slot is to be had before `until` (epoch ms), or, with `once`, when none is free at the first attempt.
   */
  acquire(
    portalId: string,
    bucket: Bucket,
    lane?: Lane,
    until?: number,
    once?: boolean,
  ): Promise<string | void>;
  /**
   * The call that took `slot` has its answer: its place in the window moves to now. HubSpot counts a request
   * when it arrives, somewhere between our acquire and the answer; counting from the answer never undercounts,
   * so a slow burst (many calls in flight on a busy host) does not earn 429s when the window slides. Until then
   * the slot counts as made a window after it was taken (issue #18: dated at the acquire, a request that left
   * late, on a stalled event loop, dropped out of our window while still in HubSpot's, and 429s followed); a
   * caller that never settles holds its slot for two windows.
   */
  settle?(portalId: string, bucket: Bucket, slot: string): Promise<void>;
  /** HubSpot said we are over its limit: stop every process for this portal and bucket for `ms`. */
  backOff(portalId: string, bucket: Bucket, ms: number): Promise<void>;
  window(portalId: string, bucket: Bucket): Window;
  /** The daily quota is spent: every process stops calling for this portal until its reset; returns when (epoch ms). */
  blockDaily?(portalId: string): Promise<number>;
  /** HubSpot's X-HubSpot-RateLimit-* response headers (lower-case names), to follow the portal's real budget. */
  observe?(portalId: string, bucket: Bucket, headers: Record<string, string>): Promise<void>;
}

// Every script here runs by hash (state/lua.ts, loaded again after a Redis restart): sent as text, each
// acquire and settle carried the script across the wire.
//
// A bucket's whole window is one string (MessagePack): `s` the calls' scores and `i` their slot ids, `a` when the
// interactive calls of the window were made, `w` who waits (slot id or 'bulk' -> when the registration lapses).
// An acquire is then TIME, one MGET and at most one SET inside one script, however full the window: it was a
// sorted set per concept, read with a dozen ZCARD/ZCOUNT/ZREMRANGEBYSCORE/PTTL calls (issue #18: 15 commands per
// HubSpot call, most of a single move's Redis cost). A call's score is its answer time once settled; until then a
// window after it was taken, so a request that leaves late still counts (see `settle`). Exact times, not slice
// counters: HubSpot's window is rolling, and counters would have to count a partial slice as whole.
const WINDOW_LUA = `
local function clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- The window at \`now\`: calls scored at or before now - windowMs, interactive calls made then, and lapsed
-- registrations are gone.
local function load(raw, now, windowMs)
  local st = { s = {}, i = {}, a = {}, w = {} }
  if raw then st = cmsgpack.unpack(raw) end
  local s, i, a, w = {}, {}, {}, {}
  for k = 1, #st.s do
    if st.s[k] > now - windowMs then s[#s + 1] = st.s[k]; i[#i + 1] = st.i[k] end
  end
  for k = 1, #st.a do
    if st.a[k] > now - windowMs then a[#a + 1] = st.a[k] end
  end
  for id, lapse in pairs(st.w) do
    if lapse > now then w[id] = lapse end
  end
  return { s = s, i = i, a = a, w = w }
end
-- Settles (ARGV from \`from\` on: slot id, ms since its answer): each call is dated at its answer.
local function settle(st, now, from)
  local n = 0
  for k = from, #ARGV - 1, 2 do
    local id = ARGV[k]
    for j = 1, #st.i do
      if st.i[j] == id then st.s[j] = now - tonumber(ARGV[k + 1]); n = n + 1; break end
    end
  end
  return n
end
local function save(key, st, windowMs)
  redis.call('SET', key, cmsgpack.pack(st), 'PX', 2 * windowMs + 60000)
end
`;

// Returns 0 when a slot was taken, a positive wait (ms) while the window or a burst back-off is full, and minus
// the remaining ms of a daily block. KEYS: window, burst block, daily block, learned plan ("max:windowMs" from
// HubSpot's headers), the Redis epoch (see below). ARGV: max, windowMs, slot, lane, slices (0: bulk unpaced), then
// the settles this process has not sent yet (pairs: slot, ms since its answer).
const ACQUIRE_LUA =
  WINDOW_LUA +
  `
local now = clock()
local v = redis.call('MGET', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
local max = tonumber(ARGV[1])
local windowMs = tonumber(ARGV[2])
local slot = ARGV[3]
local lane = ARGV[4]
local slices = tonumber(ARGV[5])
if v[4] then
  local m, w = string.match(v[4], '^(%d+):(%d+)$')
  if m then max = tonumber(m); windowMs = tonumber(w) end
end
local st = load(v[1], now, windowMs)
local dirty = settle(st, now, 6) > 0
if not v[1] then
  -- No window: the bucket was idle for two windows (its key expired), or Redis lost its data, and with it the
  -- calls HubSpot still counts. The epoch tells them apart: set when the limiter first finds this Redis empty.
  -- Within a window of it, the lost window is taken as full and evenly used (as bulk pacing leaves it), so calls
  -- come back only as fast as it slides out, never in a burst on top of it.
  local epoch = tonumber(redis.call('GET', KEYS[5]) or '')
  if not epoch then
    epoch = now
    redis.call('SET', KEYS[5], now)
  end
  if now - epoch < windowMs then
    for k = 1, max do
      local at = epoch - windowMs + math.floor(k * windowMs / max)
      if at > now - windowMs then st.s[#st.s + 1] = at; st.i[#st.i + 1] = '' end
    end
    dirty = true
  end
end
local daily = tonumber(v[3] or '')
if daily and daily > now then
  if dirty then save(KEYS[1], st, windowMs) end
  return -(daily - now)
end
local blocked = tonumber(v[2] or '')
if blocked and blocked > now then
  if dirty then save(KEYS[1], st, windowMs) end
  return blocked - now
end
local count = #st.s
local interactive = #st.a
local waiters = 0
for _ in pairs(st.w) do waiters = waiters + 1 end
local limit = max
-- Bulk work keeps a quarter of the window however busy the cards; 'bulk' among the waiters says it waits.
local floor = math.floor(max / 4)
local bulkWaits = st.w['bulk']
if lane ~= 'bulk' and bulkWaits then
  local bulkUsed = count - interactive
  if bulkUsed < floor then limit = max - (floor - bulkUsed) end
end
if lane == 'bulk' then
  local reserve = 0
  if max >= 2 then reserve = math.max(1, math.floor(max * 0.1)) end
  local share = max - reserve
  local waiting = waiters
  if bulkWaits then waiting = waiting - 1 end
  -- Room for as many interactive calls as the last window saw (at least the reserve, at most half the window)
  -- and one for each waiting; but however busy the cards, bulk work keeps a quarter of the window. While no
  -- person has used or awaited the window for a whole window, only the idle reserve stays free.
  local held = math.min(math.max(reserve, interactive), math.floor(max / 2))
  if interactive == 0 and waiting == 0 then held = math.min(reserve, math.max(1, math.floor(max / 50))) end
  limit = max - held - waiting
  if count >= limit and count - interactive < floor and count < share then limit = count + 1 end
  if limit < 1 then
    st.w['bulk'] = now + 2000
    save(KEYS[1], st, windowMs)
    return math.max(1, math.floor(windowMs / 20))
  end
  if count < limit and slices > 1 then
    local slice = math.floor(windowMs / slices)
    local pace = math.max(1, math.ceil((max - held) / slices))
    -- An answered call stays in the slice until a slice after its answer, so each call held the pace for a slice
    -- plus its own duration L: bulk ran at pace / (slice + L), not pace / slice (issue #18: 9.6 instead of 10.2 a
    -- second at 150 ms a call). Calls in flight are about rate x L, and so are the answered ones that were
    -- started before the slice: that many more are allowed (never more than were answered in the slice, so a
    -- burst of calls that have not answered yet still gets only the pace; at most half a pace).
    local inFlight, answered, oldest = 0, 0, nil
    for k = 1, count do
      local at = st.s[k]
      if at > now then inFlight = inFlight + 1 elseif at >= now - slice then answered = answered + 1 end
      if at >= now - slice and (oldest == nil or at < oldest) then oldest = at end
    end
    if answered + inFlight >= pace + math.min(inFlight, answered, math.ceil(pace / 2)) then
      -- In-flight calls (dated ahead) are happening now: they leave the slice a slice after their answer.
      local wait = math.min(oldest + slice - now, slice)
      if wait < 1 then wait = 1 end
      if dirty then save(KEYS[1], st, windowMs) end
      return wait
    end
  end
end
if count < limit then
  -- Dated a window ahead until settled: a call still in flight counts, however late its request leaves.
  st.s[count + 1] = now + windowMs
  st.i[count + 1] = slot
  if lane ~= 'bulk' then
    st.w[slot] = nil
    st.a[interactive + 1] = now
  end
  save(KEYS[1], st, windowMs)
  return 0
end
local sorted = {}
for k = 1, count do sorted[k] = st.s[k] end
table.sort(sorted)
local at = sorted[count - limit + 1]
local wait = at + windowMs - now
-- A call still in flight frees its place when answered, which may be any moment: look again soon.
if at > now then wait = math.min(wait, math.max(1, math.floor(windowMs / 20))) end
if wait < 1 then wait = 1 end
-- Registered until a little after its next attempt: a caller that died or gave up stops counting soon.
local member = slot
if lane == 'bulk' then member = 'bulk' end
st.w[member] = now + wait + 1000
save(KEYS[1], st, windowMs)
return wait
`;
const ACQUIRE = luaScript(ACQUIRE_LUA);

// Settles no acquire of this process carried in time (ARGV: windowMs for the key's life, then slot / ms-since-answer pairs), and
// callers that leave (ARGV[2] the slot whose waiting registration ends). A window already gone stays gone.
const SETTLE_LUA =
  WINDOW_LUA +
  `
local now = clock()
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
-- Not pruned here: the window's length may be a learned one, which only an acquire reads.
local st = cmsgpack.unpack(raw)
settle(st, now, 3)
if ARGV[2] ~= '' then st.w[ARGV[2]] = nil end
save(KEYS[1], st, tonumber(ARGV[1]))
return 0
`;
const SETTLE = luaScript(SETTLE_LUA);

/** The window scripts' text, for the property test that runs them on a simulated clock (`clock()` replaced). */
export const WINDOW_SCRIPTS = { acquire: ACQUIRE_LUA, settle: SETTLE_LUA } as const;

// Only ever lengthens a block: a short secondly back-off must not cut a ten-second one short. The value is when
// it ends on Redis' clock, so an acquire reads it with the window in one MGET (no PTTL).
const BACK_OFF = luaScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ms = tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '')
if not current or current < now + ms then
  redis.call('SET', KEYS[1], now + ms, 'PX', ms)
end
return 0
`);

// What a window holds, for tests and diagnostics: JSON {calls, interactive, waiting}.
const INSPECT = luaScript(
  WINDOW_LUA +
    `
local st = load(redis.call('GET', KEYS[1]), clock(), tonumber(ARGV[1]))
local waiting = {}
for id in pairs(st.w) do waiting[#waiting + 1] = id end
table.sort(waiting)
return cjson.encode({ calls = #st.s, interactive = #st.a, waiting = waiting })
`,
);

/** Settles waiting to ride along the next acquire of the same window (see `settle`). */
type PendingSettles = {
  portalId: string;
  bucket: Bucket;
  slots: [slot: string, answeredAt: number][];
  timer?: NodeJS.Timeout;
};

/**
 * How long a settle waits for an acquire of the same process and window to carry it before it is sent alone: a
 * quarter of the window. A bulk move's waiters poll and a move's calls follow each other, so in a busy process it
 * rides along within milliseconds; an idle one sends it alone (issue #18: one script per call less). Meanwhile the
 * call counts as in flight: it stays in the window as it would once settled (the settle, when it comes, dates it at
 * its answer), and only bulk pacing sees it in the current slice a little longer.
 */
const settleDelayMs = (windowMs: number) => Math.min(2_500, Math.max(1, Math.floor(windowMs / 4)));

/** Slot ids: short (they are stored in the window), random enough never to meet within one window. */
const newSlot = () => randomBytes(9).toString('base64url');

export type RedisRateLimiterOptions = {
  redis: Redis;
  /** Key prefix, as for the rest of the service's keys (state/keys.ts: rateWindow, rateBlock, ...). */
  prefix: string;
  /** One plan for all portals, or a lookup per portal (portals differ in plan). */
  plan: LimiterPlan | ((portalId: string) => LimiterPlan);
  /** Injected for tests. */
  sleep?: (ms: number) => Promise<void>;
  /** When the portal's daily quota resets (HubSpot: midnight in the account's time zone). */
  dailyResetAt?: (portalId: string) => Promise<number>;
};

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class RedisRateLimiter implements RateLimiter {
  private readonly redis: Redis;
  private readonly keys: Keys;
  private readonly plan: (portalId: string) => LimiterPlan;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly dailyResetAt: ((portalId: string) => Promise<number>) | undefined;
  /** Last learned plan written per portal/bucket, so observing a header costs a Redis write only on change. */
  private readonly learned = new Map<string, { value: string; at: number }>();
  /** Settles not sent yet, per window key. */
  private readonly pending = new Map<string, PendingSettles>();

  constructor(opts: RedisRateLimiterOptions) {
    this.redis = opts.redis;
    this.keys = redisKeys(opts.prefix);
    const plan = opts.plan;
    this.plan = typeof plan === 'function' ? plan : () => plan;
    this.sleep = opts.sleep ?? defaultSleep;
    this.dailyResetAt = opts.dailyResetAt;
  }

  key(portalId: string, bucket: Bucket): string {
    return this.keys.rateWindow(portalId, bucket);
  }

  window(portalId: string, bucket: Bucket): Window {
    return this.plan(portalId)[bucket];
  }

  /** Daily quota block of a portal (all buckets). */
  dailyKey(portalId: string): string {
    return this.keys.rateDaily(portalId);
  }

  /** The window as Redis holds it now: calls counted, interactive calls among them, who waits. */
  async inspect(
    portalId: string,
    bucket: Bucket,
  ): Promise<{ calls: number; interactive: number; waiting: string[] }> {
    const raw = await INSPECT(
      this.redis,
      [this.key(portalId, bucket)],
      [this.window(portalId, bucket).windowMs],
    );
    const out = JSON.parse(String(raw)) as { calls: number; interactive: number; waiting: unknown };
    // cjson writes an empty list as an object.
    return { ...out, waiting: Array.isArray(out.waiting) ? (out.waiting as string[]) : [] };
  }

  /**
   * One attempt: 0 when a slot was taken, else how long to wait before the next attempt; negative (minus the
   * remaining ms) while the daily quota is blocked. Carries this process's pending settles of the window.
   */
  async tryAcquire(
    portalId: string,
    bucket: Bucket,
    lane: Lane = 'bulk',
    slot: string = newSlot(),
  ): Promise<number> {
    const { max, windowMs, slices } = this.window(portalId, bucket);
    const key = this.key(portalId, bucket);
    const wait = await ACQUIRE(
      this.redis,
      [
        key,
        this.keys.rateBlock(portalId, bucket),
        this.dailyKey(portalId),
        this.keys.rateLearned(portalId, bucket),
        this.keys.rateEpoch(),
      ],
      [max, windowMs, slot, lane, slices ?? 0, ...this.takeSettles(key)],
    );
    return Number(wait);
  }

  /**
   * Resolves with the slot taken, for `settle`. `once`: a person is waiting and will be answered otherwise (the
   * card, issue #18): a slot free now or LaneBusy, never a wait behind bulk work.
   */
  async acquire(
    portalId: string,
    bucket: Bucket,
    lane: Lane = 'bulk',
    until?: number,
    once = false,
  ): Promise<string> {
    const slot = newSlot();
    for (;;) {
      if (until !== undefined && Date.now() >= until) throw new LaneBusy(0);
      const wait = await this.tryAcquire(portalId, bucket, lane, slot);
      if (wait === 0) return slot;
      if (wait < 0) throw new DailyLimitBlocked(Date.now() - wait);
      if (once || (until !== undefined && Date.now() + wait > until)) {
        // Leaving: bulk work must not keep yielding to a caller that is no longer there.
        await this.sendSettles(portalId, bucket, slot).catch(() => undefined);
        throw new LaneBusy(wait);
      }
      // Waiting interactive calls wake a little early: bulk work holds back for them meanwhile. Bulk waiters get
      // a little jitter so they do not all hit Redis in the same millisecond.
      const jitter =
        lane === 'interactive'
          ? -Math.min(20, Math.floor(wait / 4))
          : Math.floor(Math.random() * Math.min(50, wait / 4 + 1));
      await this.sleep(Math.max(1, wait + jitter));
    }
  }

  /**
   * Dates the slot's call at its answer (now). Not a round trip of its own: the next acquire of this process for
   * the window carries it (a single move's calls follow each other, a bulk move's waiters poll), or it is sent
   * alone a quarter of a window later (settleDelayMs). Until it arrives the call counts as in flight, which never
   * undercounts.
   */
  settle(portalId: string, bucket: Bucket, slot: string): Promise<void> {
    const key = this.key(portalId, bucket);
    let p = this.pending.get(key);
    if (!p) this.pending.set(key, (p = { portalId, bucket, slots: [] }));
    p.slots.push([slot, performance.now()]);
    if (!p.timer) {
      p.timer = setTimeout(
        () => void this.sendSettles(portalId, bucket).catch(() => undefined),
        settleDelayMs(this.window(portalId, bucket).windowMs),
      );
      p.timer.unref();
    }
    return Promise.resolve();
  }

  /** Sends every pending settle now (tests; a process about to stop). */
  async flush(): Promise<void> {
    await Promise.all([...this.pending.values()].map((p) => this.sendSettles(p.portalId, p.bucket)));
  }

  private async sendSettles(portalId: string, bucket: Bucket, leaving = ''): Promise<void> {
    const key = this.key(portalId, bucket);
    const settles = this.takeSettles(key);
    if (settles.length === 0 && !leaving) return;
    // The longest window the bucket may have (a learned one can differ): the window must outlive its calls.
    const windowMs = Math.max(this.window(portalId, bucket).windowMs, 10_000);
    await SETTLE(this.redis, [key], [windowMs, leaving, ...settles]);
  }

  /** The window's pending settles as script arguments (slot, ms since its answer), taken off the queue. */
  private takeSettles(key: string): (string | number)[] {
    const p = this.pending.get(key);
    if (!p) return [];
    this.pending.delete(key);
    if (p.timer) clearTimeout(p.timer);
    const now = performance.now();
    return p.slots.flatMap(([slot, at]) => [slot, Math.max(0, Math.floor(now - at))]);
  }

  async backOff(portalId: string, bucket: Bucket, ms: number): Promise<void> {
    await BACK_OFF(this.redis, [this.keys.rateBlock(portalId, bucket)], [Math.max(1, Math.ceil(ms))]);
  }

  /**
   * Until the portal's reset when its time zone is known (dailyResetAt), else for an hour: one probe an hour
   * then costs one refused call, since the block stops every other call of the portal.
   */
  async blockDaily(portalId: string): Promise<number> {
    const now = Date.now();
    let until = now + 3_600_000;
    try {
      if (this.dailyResetAt) until = await this.dailyResetAt(portalId);
    } catch {
      // An unknown zone: the hourly probe is the fallback.
    }
    await BACK_OFF(this.redis, [this.dailyKey(portalId)], [Math.max(1_000, Math.ceil(until - now))]);
    return until;
  }

  /**
   * Follows HubSpot's own account of the budget (hubspot-api-facts §1 headers): the window's size from
   * `-Max`/`-Interval-Milliseconds` (5 % headroom, as burstPlan), shared through Redis for a day; a pause of a
   * tenth of the window when `-Remaining` reaches 0 (another app or deployment is spending the same budget);
   * the daily block when `-Daily-Remaining` reaches 0 (private apps only; OAuth responses omit it).
   */
  async observe(portalId: string, bucket: Bucket, headers: Record<string, string>): Promise<void> {
    const num = (name: string) => {
      const v = headers[name];
      return v !== undefined && /^\d{1,9}$/.test(v) ? Number(v) : undefined;
    };
    const max = num('x-hubspot-ratelimit-max');
    const interval = num('x-hubspot-ratelimit-interval-milliseconds');
    if (max !== undefined && interval !== undefined && max > 0 && interval >= 100) {
      const value = `${Math.max(1, Math.floor(max * 0.95))}:${interval}`;
      const memo = `${portalId}/${bucket}`;
      const seen = this.learned.get(memo);
      if (seen?.value !== value || Date.now() - seen.at > 3_600_000) {
        this.learned.set(memo, { value, at: Date.now() });
        await this.redis.set(this.keys.rateLearned(portalId, bucket), value, 'PX', 86_400_000);
      }
    }
    if (num('x-hubspot-ratelimit-remaining') === 0)
      await this.backOff(portalId, bucket, (interval ?? this.window(portalId, bucket).windowMs) / 10);
    if (num('x-hubspot-ratelimit-daily-remaining') === 0) await this.blockDaily(portalId);
  }
}
