/**
 * What one transition costs the service, and what a tracked deal costs Redis, measured from outside on a private
 * redis-server (INFO commandstats and used_memory are then this service's alone) with the service in its own
 * process (process.cpuUsage is then the service's alone):
 * - service CPU ms and Redis commands (Lua scripts' inner commands included) per transition, for single moves one
 *   at a time and for a bulk move, less the idle service's own rate over the same time (measured just before);
 * - Redis bytes per tracked deal: used_memory growth over N deals tracked and moved once (state, timers, history,
 *   queue bookkeeping), and the keyspace's MEMORY USAGE sum over the same deals.
 * Imports: service-proc.ts (service-child.ts = startStack), scene.ts (the sandbox), redis-stats.ts.
 */
import { Redis } from 'ioredis';
import { numberFlag, printTargets, round, runIfMain, sleep, table, type BenchResult } from './common';
import { commandCount, commandStats, usedMemory } from './redis-stats';
import { withRig, withService } from './rig';
import { createDeals, moveOn, quiet } from './scene';
import type { ServiceProc } from './service-proc';

export type CostOptions = { deals?: number; singles?: number };

type Window = { cpuMs: number; commands: number; ms: number; stats: Record<string, number> };

async function measure(svc: ServiceProc, redis: Redis, fn: () => Promise<void>): Promise<Window> {
  const [cpu0, stats0] = [await svc.cpuMs(), await commandStats(redis)];
  const c0 = await commandCount(redis);
  const t0 = performance.now();
  await fn();
  const ms = performance.now() - t0;
  const c1 = await commandCount(redis);
  const stats1 = await commandStats(redis);
  const stats: Record<string, number> = {};
  for (const [k, v] of Object.entries(stats1))
    if (k !== 'info' && v - (stats0[k] ?? 0) > 0) stats[k] = v - (stats0[k] ?? 0);
  return { cpuMs: (await svc.cpuMs()) - cpu0, commands: c1 - c0, ms, stats };
}

/** MEMORY USAGE (exact: SAMPLES 0) summed over every key, and the number of keys. */
async function keyspace(redis: Redis): Promise<{ bytes: number; keys: number }> {
  let bytes = 0;
  let keys = 0;
  for (let cursor = '0'; ;) {
    const [next, batch] = await redis.scan(cursor, 'COUNT', 1000);
    for (const k of batch) {
      bytes += Number(await redis.call('MEMORY', 'USAGE', k, 'SAMPLES', '0'));
      keys++;
    }
    cursor = next;
    if (cursor === '0') return { bytes, keys };
  }
}

/** Per transition, less what the idle service spends over the same time. */
const net = (w: Window, idle: Window, n: number) => ({
  cpuMs: (w.cpuMs - (idle.cpuMs * w.ms) / idle.ms) / n,
  commands: (w.commands - (idle.commands * w.ms) / idle.ms) / n,
  rawCpuMs: w.cpuMs / n,
  rawCommands: w.commands / n,
});

const top = (stats: Record<string, number>, n: number) =>
  Object.fromEntries(
    Object.entries(stats)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 12)
      .map(([k, v]) => [k, round(v / n, 1)]),
  );

export async function run(opts: CostOptions = {}): Promise<BenchResult> {
  const N = opts.deals ?? 300;
  const K = opts.singles ?? 20;
  return withRig('cost', (rig) =>
    withService(rig, async (svc) => {
      const { sandbox, redis } = rig;
      await sleep(2_000);
      const m0 = await usedMemory(redis);
      const before = await keyspace(redis);
      // Tracked deals: made, then moved once (a finished visit in history, a running one with its timers).
      const created = createDeals(sandbox, N);
      const deals = [...created.keys()];
      if (!(await quiet(sandbox, created, Date.now() + 30 * 60_000))) throw new Error('setup did not settle');
      const first = new Map(deals.map((id) => [id, moveOn(sandbox, id)]));
      if (!(await quiet(sandbox, first, Date.now() + 30 * 60_000)))
        throw new Error('first move did not settle');
      // The last Redis writes (history, timers) follow the last HubSpot call.
      await sleep(2_000);
      const m1 = await usedMemory(redis);
      const perDeal = (m1 - m0) / N;
      const after = await keyspace(redis);
      const keyBytes = after.bytes - before.bytes;
      const keys = after.keys - before.keys;

      // The idle service's own rate (BullMQ polling, markers, the timer poller's claim every 200 ms), to take out
      // of the windows below.
      const idle = await measure(svc, redis, async () => {
        await sleep(3_000);
      });
      // Single moves, one at a time, each waited for (its SLA task in HubSpot, then quiet).
      const single = await measure(svc, redis, async () => {
        for (let i = 0; i < K; i++) {
          const id = deals[i % deals.length]!;
          const visit = new Map([[id, moveOn(sandbox, id)]]);
          if (!(await quiet(sandbox, visit, Date.now() + 60_000, 300)))
            throw new Error(`single move ${i} did not settle`);
        }
      });
      // Every tracked deal moved at once.
      const bulk = await measure(svc, redis, async () => {
        const visits = new Map(deals.map((id) => [id, moveOn(sandbox, id)]));
        if (!(await quiet(sandbox, visits, Date.now() + 30 * 60_000)))
          throw new Error('bulk move did not settle');
      });
      const s = net(single, idle, K);
      const b = net(bulk, idle, N);
      console.log(
        table(
          `Cost per transition (service process, private Redis), ${K} single moves and a ${N}-deal bulk move`,
          [
            ['what', 'CPU ms', 'Redis commands', 'raw CPU ms', 'raw commands'],
            ['single move', s.cpuMs, s.commands, s.rawCpuMs, s.rawCommands],
            ['bulk move', b.cpuMs, b.commands, b.rawCpuMs, b.rawCommands],
            [
              'idle service, per second',
              (idle.cpuMs / idle.ms) * 1000,
              (idle.commands / idle.ms) * 1000,
              '',
              '',
            ],
          ],
        ),
      );
      console.log(
        table(`Redis per tracked deal (${N} deals, each moved once)`, [
          ['what', 'bytes'],
          ['used_memory growth / deals', perDeal],
          ['MEMORY USAGE growth of the keyspace / deals', keyBytes / N],
          ['keys per deal', keys / N],
        ]),
      );
      const worstCpu = Math.max(s.cpuMs, b.cpuMs);
      const worstCmds = Math.max(s.commands, b.commands);
      const result: BenchResult = {
        name: 'cost',
        figures: {
          deals: N,
          singles: K,
          singleCpuMsPerTransition: round(s.cpuMs),
          singleCommandsPerTransition: round(s.commands),
          bulkCpuMsPerTransition: round(b.cpuMs),
          bulkCommandsPerTransition: round(b.commands),
          singleRawCpuMs: round(s.rawCpuMs),
          singleRawCommands: round(s.rawCommands),
          bulkRawCpuMs: round(b.rawCpuMs),
          bulkRawCommands: round(b.rawCommands),
          singleCommandsByType: JSON.stringify(top(single.stats, K)),
          bulkCommandsByType: JSON.stringify(top(bulk.stats, N)),
          bytesPerTrackedDeal: round(perDeal),
          keyspaceBytesPerDeal: round(keyBytes / N),
          keysPerDeal: round(keys / N, 1),
        },
        baseline: {
          what: 'the idle service over 3 s just before (its rate taken out of each window)',
          figures: {
            idleCpuMsPerSecond: round((idle.cpuMs / idle.ms) * 1000),
            idleCommandsPerSecond: round((idle.commands / idle.ms) * 1000),
          },
        },
        ratio: {
          what: 'single-move CPU per transition / bulk CPU per transition',
          value: round(s.cpuMs / b.cpuMs),
        },
        targets: [
          {
            name: 'service CPU per transition (worse of single and bulk)',
            target: '<= 1.5 ms',
            value: round(worstCpu),
            unit: 'ms',
            met: worstCpu <= 1.5,
          },
          {
            name: 'Redis commands per transition (worse of single and bulk)',
            target: '<= 60',
            value: round(worstCmds),
            unit: 'commands',
            met: worstCmds <= 60,
          },
          {
            name: 'Redis bytes per tracked deal',
            target: '<= 2048 bytes',
            value: round(perDeal),
            unit: 'bytes',
            met: perDeal <= 2048,
          },
        ],
        notes: [
          `${N} tracked deals${N < 10_000 ? ' (scaled; BENCH_COST_DEALS sets it)' : ''}; the webhook intake and the reconcile are both in the service process, so the CPU covers a transition from webhook to HubSpot write-back`,
          'used_memory growth includes allocator overhead and BullMQ bookkeeping (completed-job retention, zset shares); the keyspace sum does not',
          "a deal's pending SLA timers are its members of the one timer index ({prefix}:timers:due), counted in both",
        ],
      };
      printTargets(result);
      return result;
    }),
  );
}

await runIfMain(import.meta.url, run, { deals: numberFlag('deals'), singles: numberFlag('singles') });
