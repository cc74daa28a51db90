/**
 * `npm run bench`: every benchmark in turn, each printing its table and its ratio against a baseline measured in
 * the same run; figures go to test/bench/results/latest.json. `-- --full` runs the 10,000-deal bulk move.
 */
import { parseArgs } from 'node:util';
import { RESULTS, saveResult, type BenchResult } from './common';
import * as hubspot from './hubspot';
import * as ingest from './ingest';
import * as scorecard from './scorecard';
import * as timers from './timers';
import * as whatif from './whatif';

const { values } = parseArgs({ options: { full: { type: 'boolean' }, only: { type: 'string' } } });
const benches: [string, () => Promise<BenchResult>][] = [
  ['ingest', () => ingest.run()],
  ['hubspot', () => hubspot.run(values.full ? { deals: 10_000, budgetMs: 60 * 60_000 } : {})],
  ['timers', () => timers.run()],
  ['scorecard', () => scorecard.run()],
  ['whatif', () => whatif.run()],
];
const results: BenchResult[] = [];
let failed = false;
for (const [name, bench] of benches) {
  if (values.only && !values.only.split(',').includes(name)) continue;
  const t0 = Date.now();
  try {
    const r = await bench();
    saveResult(r);
    results.push(r);
    console.log(`  (${name}: ${Math.round((Date.now() - t0) / 1000)} s)`);
  } catch (err) {
    failed = true;
    console.error(`bench ${name} failed:`, err);
  }
}
console.log('\nTargets');
for (const r of results)
  for (const t of r.targets)
    console.log(`  ${t.met ? 'MET   ' : 'MISSED'} ${t.name}: ${t.value} ${t.unit} (target ${t.target})`);
console.log(`\nfigures written to ${RESULTS}`);
process.exit(failed ? 1 : 0);
