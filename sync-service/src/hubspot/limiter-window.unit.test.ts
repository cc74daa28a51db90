import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisKeys } from '../state/keys';
import { prng } from '../../../test/sandbox/prng';
import { burstPlan, WINDOW_SCRIPTS } from './limiter';

// HubSpot's limit is a rolling window: no `max` requests may reach it within ANY `windowMs`. The limiter's own
// scripts run here on a simulated clock (their `clock()` reads a key instead of TIME), driven by bulk lanes in two
// processes, bursts of card reads and requests that leave late, over minutes of simulated time; then every
// sliding window of the requests' arrival times is counted. Counted, not timed: the machine's speed plays no part.

const prefix = `sktest-limwin-${process.pid}-${Date.now()}`;
const keys = redisKeys(prefix);
const T0 = 1_700_000_000_000;
const plan = burstPlan(110).default;
const W = plan.windowMs;
let redis: Redis;

const withClock = (src: string) => {
  const out = src.replace(
    /local function clock\(\)[\s\S]*?\nend\n/,
    "local function clock() return tonumber(redis.call('GET', KEYS[1] .. ':clock')) end\n",
  );
  if (out === src) throw new Error('the scripts no longer define clock() as this test expects');
  return out;
};
let acquireSha: string;
let settleSha: string;

beforeAll(async () => {
  redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 3 });
  acquireSha = String(await redis.script('LOAD', withClock(WINDOW_SCRIPTS.acquire)));
  settleSha = String(await redis.script('LOAD', withClock(WINDOW_SCRIPTS.settle)));
});
afterAll(async () => {
  const found = await redis.keys(`${prefix}:*`);
  if (found.length) await redis.del(...found);
  redis.disconnect();
});

type Sim = { arrivals: number[]; slots: number; lostAt?: number };

/**
 * `seconds` of simulated traffic on one portal; `loseAt`: Redis loses every key of the limiter then (window and
 * epoch), as a restart without persistence does.
 */
async function simulate(seed: number, seconds: number, loseAt?: number): Promise<Sim> {
  // Seeded: each run is the same on every machine.
  const rnd = prng(seed);
  const portal = `p${seed}`;
  const window = keys.rateWindow(portal, 'default');
  const KEYS = [
    window,
    keys.rateBlock(portal, 'default'),
    keys.rateDaily(portal),
    keys.rateLearned(portal, 'default'),
    keys.rateEpoch(),
  ];
  // Redis has held the limiter's data for long before the run.
  await redis.set(keys.rateEpoch(), 0);
  const events: { at: number; seq: number; run: () => Promise<void> }[] = [];
  let seq = 0;
  let now = 0;
  const at = (t: number, run: () => Promise<void>) => {
    events.push({ at: t, seq: seq++, run });
  };
  const arrivals: number[] = [];
  let slots = 0;
  let n = 0;
  // Each process carries its settles on its next acquire, or sends them alone a quarter window after the first.
  const procs = [0, 1].map(() => ({ pending: [] as [string, number][], flushAt: -1 }));
  const settles = (p: (typeof procs)[number]) => {
    const out = p.pending.flatMap(([slot, answered]) => [slot, now - answered]);
    p.pending = [];
    p.flushAt = -1;
    return out;
  };
  const acquire = async (p: (typeof procs)[number], lane: string, slot: string) => {
    await redis.set(`${window}:clock`, T0 + now);
    const args = [plan.max, W, slot, lane, plan.slices ?? 0, ...settles(p)];
    return Number(await redis.evalsha(acquireSha, KEYS.length, ...KEYS, ...args));
  };
  const flush = async (p: (typeof procs)[number], leaving = '') => {
    await redis.set(`${window}:clock`, T0 + now);
    await redis.evalsha(settleSha, 1, window, W, leaving, ...settles(p));
  };
  /** A granted call: its request reaches HubSpot now or late (a stalled event loop), its answer after that. */
  const call = (p: (typeof procs)[number], slot: string, then: () => void) => {
    slots++;
    const late = rnd() < 0.05 ? rnd() * 3_000 : rnd() * 100;
    const arrival = now + late;
    const answer = arrival + 50 + rnd() * 300;
    at(arrival, async () => void arrivals.push(arrival));
    at(answer, async () => {
      p.pending.push([slot, answer]);
      if (p.flushAt < 0) {
        const due = answer + W / 4;
        p.flushAt = due;
        at(due, async () => {
          if (p.flushAt === due) await flush(p);
        });
      }
      then();
    });
  };
  // Two bulk lanes per process, always with work (a 10,000-deal move), waiting as RedisRateLimiter.acquire does.
  const bulk = (p: (typeof procs)[number]) => {
    const slot = `b${n++}`;
    const attempt = async () => {
      const wait = await acquire(p, 'bulk', slot);
      if (wait === 0) call(p, slot, () => at(now + rnd() * 20, async () => bulk(p)));
      else at(now + wait + Math.floor(rnd() * Math.min(50, wait / 4 + 1)), attempt);
    };
    at(now, attempt);
  };
  for (const p of procs) for (let lane = 0; lane < 2; lane++) bulk(p);
  // Card reads: about one a second, and now and then a burst of up to 15 at once; some give up when told to wait.
  const card = (p: (typeof procs)[number]) => {
    const slot = `c${n++}`;
    const attempt = async () => {
      const wait = await acquire(p, 'interactive', slot);
      if (wait === 0) call(p, slot, () => undefined);
      else if (rnd() < 0.2) await flush(p, slot);
      else at(now + Math.max(1, wait - Math.min(20, Math.floor(wait / 4))), attempt);
    };
    at(now, attempt);
  };
  for (let t = 0; t < seconds * 1000; t += rnd() * 2_000) {
    const burst = rnd() < 0.1 ? 1 + Math.floor(rnd() * 15) : 1;
    for (let i = 0; i < burst; i++) at(t, async () => card(procs[i % 2]!));
  }
  if (loseAt !== undefined) {
    at(loseAt, async () => {
      await redis.del(window, keys.rateEpoch());
    });
    // Card reads right after it: an empty window would let them all in at once, on top of the lost one.
    for (let i = 0; i < 30; i++) at(loseAt + 100, async () => card(procs[i % 2]!));
  }

  for (;;) {
    events.sort((x, y) => x.at - y.at || x.seq - y.seq);
    const next = events.shift();
    if (!next || next.at > seconds * 1000) break;
    now = next.at;
    await next.run();
  }
  return { arrivals, slots, ...(loseAt !== undefined ? { lostAt: loseAt } : {}) };
}

/** The most arrivals in any window (t - W, t]; with `apart`, only windows that do not hold that moment. */
function busiest(arrivals: number[], apart?: number): number {
  const a = [...arrivals].sort((x, y) => x - y);
  let most = 0;
  let from = 0;
  for (let i = 0; i < a.length; i++) {
    while (a[from]! <= a[i]! - W) from++;
    const holdsLoss = apart !== undefined && a[i]! - W < apart && apart <= a[i]!;
    if (!holdsLoss) most = Math.max(most, i - from + 1);
  }
  return most;
}

describe('the rate window, on a simulated clock', () => {
  it.each([1, 2, 3])(
    'never lets more than the limit reach HubSpot in any sliding window (seed %i)',
    async (seed) => {
      const sim = await simulate(seed, 120);
      const most = busiest(sim.arrivals);
      console.log(`seed ${seed}: ${sim.arrivals.length} requests, at most ${most} in a window`);
      // Enough traffic that the limit is what held it back: some window came close to it.
      expect(most).toBeGreaterThan(0.9 * plan.max);
      expect(most).toBeLessThanOrEqual(plan.max);
    },
    60_000,
  );

  it('after Redis lost the window, calls come back as the lost window slides out: no burst on top of it', async () => {
    const sim = await simulate(4, 90, 45_000);
    console.log(
      `loss: at most ${busiest(sim.arrivals, sim.lostAt)} apart from it, ${busiest(sim.arrivals)} over it`,
    );
    // Windows apart from the loss keep the plan's limit; the ones spanning it stay within HubSpot's own, because
    // the lost window is rebuilt as full and evenly used (bulk pacing leaves it so).
    expect(busiest(sim.arrivals, sim.lostAt)).toBeLessThanOrEqual(plan.max);
    expect(busiest(sim.arrivals)).toBeLessThanOrEqual(110);
    // Without the rebuilt window, the first window after the loss would have let in a whole window's worth more.
    const after = sim.arrivals.filter((t) => t > 45_000 && t <= 45_000 + W).length;
    expect(after).toBeLessThanOrEqual(plan.max);
  }, 60_000);
});
