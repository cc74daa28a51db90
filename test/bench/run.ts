/**
 * `npm run bench`: every benchmark in turn, each printing its table and its ratio against a floor or a baseline
 * measured in the same run. results/latest.json is written once, at the end, from this run alone (git commit and
 * dirty flag recorded); a bench that was not run is not in it, a bench that failed is listed under run.failed.
 *
 *   npm run bench                      default sizes (scaled, tens of minutes on a quiet machine)
 *   npm run bench -- --full            the sizes (10,000-deal moves, 500,000-visit week, 1M rows)
 *   npm run bench -- --quick           tiny sizes, a couple of minutes: the shape of the results, not figures
 *   npm run bench -- --only card,bulk  some benches only
 * Any size can be set on its own with an environment variable (BENCH_* below). `card` measures the service as one
 * process (npm start), `card-split` as a web and a worker process (SERVICE_ROLE, docs/deploy.md).
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import * as bulk from './bulk';
import { gitState, round, writeRun, type BenchResult } from './common';
import * as card from './card';
import * as cost from './cost';
import * as history from './history';
import * as hubspot from './hubspot';
import * as ingest from './ingest';
import * as scale from './scale';
import * as scorecard from './scorecard';
import * as timers from './timers';
import * as whatif from './whatif';

type Mode = 'quick' | 'default' | 'full';

/** Sizes per mode; BENCH_<NAME> overrides one. */
const SIZES = {
  CARD_DEALS: { quick: 50, default: 1_000, full: 10_000 },
  CARD_RATE: { quick: 110, default: 110, full: 110 },
  CARD_IDLE_READS: { quick: 40, default: 150, full: 400 },
  BULK_DEALS: { quick: 100, default: 1_000, full: 10_000 },
  COST_DEALS: { quick: 30, default: 1_000, full: 10_000 },
  COST_SINGLES: { quick: 5, default: 20, full: 50 },
  COST_STEADY_RATE: { quick: 20, default: 20, full: 20 },
  COST_STEADY_SECONDS: { quick: 3, default: 15, full: 20 },
  COST_STEADY_WARMUP_SECONDS: { quick: 0, default: 60, full: 120 },
  HISTORY_SMALL: { quick: 2_000, default: 2_000, full: 2_000 },
  HISTORY_BIG: { quick: 5_000, default: 100_000, full: 500_000 },
  SCORECARD_ROWS: { quick: 5_000, default: 200_000, full: 1_000_000 },
  SCALE_DEALS: { quick: 50, default: 2_500, full: 10_000 },
  HUBSPOT_TRANSITIONS: { quick: 5, default: 40, full: 40 },
  INGEST_REQUESTS: { quick: 200, default: 3_000, full: 3_000 },
  TIMERS: { quick: 2_000, default: 100_000, full: 100_000 },
  TIMERS_FIRING: { quick: 200, default: 2_000, full: 2_000 },
  SHARED_ROWS: { quick: 10_000, default: 1_000_000, full: 1_000_000 },
} as const;

const { values } = parseArgs({
  options: { full: { type: 'boolean' }, quick: { type: 'boolean' }, only: { type: 'string' } },
});
const mode: Mode = values.full ? 'full' : values.quick ? 'quick' : 'default';
const size = (name: keyof typeof SIZES): number => {
  const env = process.env[`BENCH_${name}`];
  return env !== undefined && env !== '' ? Number(env) : SIZES[name][mode];
};
const sizes = Object.fromEntries(Object.keys(SIZES).map((k) => [k, size(k as keyof typeof SIZES)]));

const benches: [string, () => Promise<BenchResult>][] = [
  [
    'card',
    () =>
      card.run({
        deals: size('CARD_DEALS'),
        ratePer10s: size('CARD_RATE'),
        idleReads: size('CARD_IDLE_READS'),
      }),
  ],
  [
    'card-split',
    () =>
      card.run({
        deals: size('CARD_DEALS'),
        ratePer10s: size('CARD_RATE'),
        idleReads: size('CARD_IDLE_READS'),
        roles: 'split',
      }),
  ],
  ['bulk', () => bulk.run({ deals: size('BULK_DEALS'), rates: [110, 190] })],
  [
    'cost',
    () =>
      cost.run({
        deals: size('COST_DEALS'),
        singles: size('COST_SINGLES'),
        steadyRate: size('COST_STEADY_RATE'),
        steadySeconds: size('COST_STEADY_SECONDS'),
        steadyWarmupSeconds: size('COST_STEADY_WARMUP_SECONDS'),
      }),
  ],
  [
    'history',
    () =>
      history.run({
        smallWeek: size('HISTORY_SMALL'),
        bigWeek: size('HISTORY_BIG'),
        scorecardRows: size('SCORECARD_ROWS'),
      }),
  ],
  ['scale', () => scale.run({ deals: size('SCALE_DEALS') })],
  [
    'ingest',
    () =>
      ingest.run({
        requests: size('INGEST_REQUESTS'),
        maxMs: mode === 'quick' ? 3_000 : 20_000,
        fanOutMs: mode === 'quick' ? 2_000 : 10_000,
      }),
  ],
  ['hubspot', () => hubspot.run({ transitions: size('HUBSPOT_TRANSITIONS') })],
  ['timers', () => timers.run({ timers: size('TIMERS'), firing: size('TIMERS_FIRING') })],
  ['scorecard', () => scorecard.run({ rows: size('SHARED_ROWS') })],
  ['whatif', () => whatif.run({ rows: size('SHARED_ROWS') })],
];

const startedAt = new Date().toISOString();
const gitAtStart = gitState();
const results: BenchResult[] = [];
const failed: Record<string, string> = {};
for (const [name, bench] of benches) {
  if (values.only && !values.only.split(',').includes(name)) continue;
  const t0 = Date.now();
  try {
    const r = await bench();
    results.push({ ...r, measuredAt: new Date().toISOString(), loadavg1m: round(loadavg()[0]!) });
    console.log(`  (${name}: ${Math.round((Date.now() - t0) / 1000)} s)`);
  } catch (err) {
    failed[name] = err instanceof Error ? err.message : String(err);
    console.error(`bench ${name} failed:`, err);
  }
}
writeRun(results, { mode, args: process.argv.slice(2), startedAt, sizes, failed, gitAtStart });
console.log('\nTargets');
for (const r of results)
  for (const t of r.targets)
    console.log(
      `  ${t.met ? 'MET   ' : 'MISSED'} ${r.name}: ${t.name}: ${t.value} ${t.unit} (target ${t.target})`,
    );
for (const [name, why] of Object.entries(failed)) console.log(`  FAILED ${name}: ${why}`);
process.exit(Object.keys(failed).length > 0 ? 1 : 0);
