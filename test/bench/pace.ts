/**
 * The rate limiter alone, as a bulk move uses it: four lanes (the four batch endpoints), each with one call in
 * flight at a time (coalesce.ts), each call taking `callMs`, until `calls` calls were made under the service's plan
 * for a limit (burstPlan). No service, no sandbox: what separates the limiter's pacing from the 4-per-100 floor,
 * apart from the service's CPU and the portal's answers. Own redis-server. Used by bulk.ts; runs alone too.
 */
import { Redis } from 'ioredis';
import { burstPlan, RedisRateLimiter } from '@stagekeeper/sync-service/hubspot/limiter';
import { redisKeys } from '@stagekeeper/sync-service/state/keys';
import { OwnRedis } from '../chaos/redis-server';
import { commandCount } from './redis-stats';
import { numberFlag, printTargets, round, runIfMain, sleep, type BenchResult } from './common';

/** `redisCommands`: what Redis ran for the limiter (scripts and the commands inside them), waits included. */
export type PaceResult = {
  ratePer10s: number;
  calls: number;
  wallMs: number;
  floorMs: number;
  redisCommands: number;
};

export async function limiterPace(opts: {
  ratePer10s: number;
  calls: number;
  callMs?: number;
  lanes?: number;
}): Promise<PaceResult> {
  const { ratePer10s, calls } = opts;
  const own = await OwnRedis.start({ persist: false });
  const redis = new Redis(own.url);
  try {
    // A Redis that has long held the limiter's data (as the service's has by the time of a move): a fresh one
    // would look like one that lost its window, which the limiter refills as it slides out (limiter.ts).
    await redis.set(redisKeys('skbench-pace').rateEpoch(), 0);
    const limiter = new RedisRateLimiter({ redis, prefix: 'skbench-pace', plan: burstPlan(ratePer10s) });
    const commands0 = await commandCount(redis);
    let made = 0;
    let last = 0;
    const t0 = Date.now();
    await Promise.all(
      Array.from({ length: opts.lanes ?? 4 }, async () => {
        while (made < calls) {
          const slot = await limiter.acquire('1', 'default', 'bulk');
          if (made >= calls) break;
          made++;
          last = Math.max(last, Date.now() - t0);
          await sleep(opts.callMs ?? 150);
          await limiter.settle('1', 'default', slot);
        }
      }),
    );
    await limiter.flush();
    return {
      ratePer10s,
      calls,
      wallMs: last,
      floorMs: (calls / (ratePer10s / 10)) * 1000,
      redisCommands: (await commandCount(redis)) - commands0,
    };
  } finally {
    redis.disconnect();
    await own.close();
  }
}

export async function run(opts: { calls?: number } = {}): Promise<BenchResult> {
  const calls = opts.calls ?? 400;
  const runs = [];
  for (const ratePer10s of [110, 190]) runs.push(await limiterPace({ ratePer10s, calls }));
  const figures: BenchResult['figures'] = { calls };
  for (const r of runs)
    Object.assign(figures, {
      [`wallSeconds${r.ratePer10s}`]: round(r.wallMs / 1000),
      [`wallOverFloor${r.ratePer10s}`]: round(r.wallMs / r.floorMs),
      [`redisCommandsPerCall${r.ratePer10s}`]: round(r.redisCommands / r.calls, 2),
    });
  const result: BenchResult = {
    name: 'pace',
    figures,
    baseline: {
      what: 'floor: the calls at the limit (calls / (limit / 10) s)',
      figures: Object.fromEntries(runs.map((r) => [`floorSeconds${r.ratePer10s}`, round(r.floorMs / 1000)])),
    },
    ratio: {
      what: 'limiter-only wall / floor at 110 / 10 s',
      value: round(runs[0]!.wallMs / runs[0]!.floorMs),
    },
    targets: [],
    notes: ['4 lanes, one call in flight each, 150 ms a call; the service plans 5 % under the limit'],
  };
  printTargets(result);
  return result;
}

await runIfMain(import.meta.url, run, { calls: numberFlag('calls') });
