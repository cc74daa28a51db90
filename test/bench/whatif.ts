/**
 * The what-if replay of 1,000,000 recorded visits (the telehealth playbook in force against a draft, 4 weeks):
 * runs shared/src/whatif/bench.ts in a fresh process and reads its figures. Its baseline is computeScorecard over the
 * same rows, measured in the same run.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { printTargets, runIfMain, type BenchResult } from './common';

const BENCH = fileURLToPath(new URL('../../shared/src/whatif/bench.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../..', import.meta.url));

export async function run(opts: { rows?: number } = {}): Promise<BenchResult> {
  const rows = opts.rows ?? 1_000_000;
  const out = spawnSync(process.execPath, ['--import', 'tsx', BENCH, String(rows)], {
    cwd: REPO,
    encoding: 'utf8',
    timeout: 600_000,
  });
  const text = `${out.stdout ?? ''}${out.stderr ?? ''}`.trim();
  console.log(
    `\nWhat-if replay (${rows.toLocaleString('en-US')} visits, shared/src/whatif/bench.ts)\n${text}`,
  );
  const num = (re: RegExp) => {
    const m = re.exec(text);
    return m ? Number(m[1]) : NaN;
  };
  const replayMs = num(/whatIf ([\d.]+) ms/);
  const firstMs = num(/first run ([\d.]+) ms/);
  const cardMs = num(/computeScorecard ([\d.]+) ms/);
  const cpuFirstMs = num(/CPU first ([\d.]+) ms/);
  const cpuSecondMs = num(/CPU first [\d.]+ ms, second ([\d.]+) ms/);
  if (out.status !== 0 || Number.isNaN(replayMs))
    throw new Error(`what-if bench failed or changed its output:\n${text}`);
  const worst = Number.isNaN(firstMs) ? replayMs : Math.max(replayMs, firstMs);
  const result: BenchResult = {
    name: 'whatif',
    figures: {
      visits: rows,
      replayMsBestOf2: replayMs,
      replayMsFirstRun: firstMs,
      visitsPerSecond: Math.round(rows / (replayMs / 1000)),
      replayCpuMsFirstRun: cpuFirstMs,
      replayCpuMsSecondRun: cpuSecondMs,
    },
    baseline: {
      what: 'computeScorecard over the same rows (same process, same run)',
      figures: { scorecardMs: cardMs },
    },
    ratio: {
      what: 'whatIf (two playbooks replayed, compared, repair preview) / computeScorecard',
      value: Math.round((replayMs / cardMs) * 10) / 10,
    },
    targets: [
      {
        name: `what-if replay of ${rows.toLocaleString('en-US')} visits`,
        target: '< 10000 ms',
        value: worst,
        unit: 'ms',
        met: worst < 10_000,
        note: 'worse of the first run (calendars compiled, JIT cold) and the second',
      },
    ],
    notes: [
      'rows are generated in memory with recorded inputs; reading them from Redis is not included',
      'replayCpuMs*: CPU time of the bench process during each replay; on a busy machine the wall time also holds the wait for a core',
    ],
  };
  printTargets(result);
  return result;
}

await runIfMain(import.meta.url, run);
