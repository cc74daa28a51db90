/**
 * A week's scorecard over 1,000,000 stage-history rows: runs the scorecard's own bench
 * (shared/src/scorecard/bench.ts, owned with the scorecard) in a fresh process and reads its figures. Its baseline
 * is a loop that only sums businessMs over the same rows, measured in the same run.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { printTargets, runIfMain, type BenchResult } from './common';

const BENCH = fileURLToPath(new URL('../../shared/src/scorecard/bench.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../..', import.meta.url));

export async function run(opts: { rows?: number } = {}): Promise<BenchResult> {
  const rows = opts.rows ?? 1_000_000;
  const out = spawnSync(process.execPath, ['--import', 'tsx', BENCH, String(rows)], {
    cwd: REPO,
    encoding: 'utf8',
    timeout: 300_000,
  });
  const text = `${out.stdout ?? ''}${out.stderr ?? ''}`.trim();
  console.log(`\nScorecard (${rows.toLocaleString('en-US')} rows, shared/src/scorecard/bench.ts)\n${text}`);
  const num = (re: RegExp) => {
    const m = re.exec(text);
    return m ? Number(m[1]) : NaN;
  };
  const cardMs = num(/computeScorecard ([\d.]+) ms/);
  const coldMs = num(/fresh rows ([\d.]+) ms/);
  const baseMs = num(/baseline sum ([\d.]+) ms/);
  if (out.status !== 0 || Number.isNaN(cardMs))
    throw new Error(`scorecard bench failed or changed its output:\n${text}`);
  const worst = Number.isNaN(coldMs) ? cardMs : Math.max(cardMs, coldMs);
  const result: BenchResult = {
    name: 'scorecard',
    figures: { rows, computeMsBestOf5: cardMs, computeMsFreshRows: coldMs },
    baseline: {
      what: 'loop summing businessMs over the same rows (same process, same run)',
      figures: { baselineMs: baseMs },
    },
    ratio: { what: 'computeScorecard / baseline sum', value: Math.round((cardMs / baseMs) * 10) / 10 },
    targets: [
      {
        name: `week scorecard over ${rows.toLocaleString('en-US')} rows (in memory)`,
        target: '< 2000 ms',
        value: worst,
        unit: 'ms',
        met: worst < 2000,
        note: 'worse of warm best-of-5 and first pass over fresh rows',
      },
    ],
    notes: [
      'row generation and reading rows from Redis are not included: computeScorecard on rows in memory',
    ],
  };
  printTargets(result);
  return result;
}

await runIfMain(import.meta.url, run);
