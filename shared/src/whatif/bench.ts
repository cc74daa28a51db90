/**
 * `npx tsx shared/src/whatif/bench.ts [rows]`: the what-if replay of generated visits (the telehealth playbook in
 * force against a draft) next to computeScorecard over the same rows in the same process, so the ratio shows what
 * replaying two contracts costs against summarising the visits once.
 */
import { computeScorecard } from '../scorecard/compute';
import { isoWeekOf } from '../scorecard/week';
import { benchInput } from './bench-rows';
import { whatIf, WEEK_MS } from './compare';

const N = Number(process.argv[2] ?? 1_000_000);
const { rows, current, draft, now: NOW, weeks: WEEKS, zone } = benchInput(N);
const week = isoWeekOf(NOW - WEEK_MS, zone);
const scorecard = () => computeScorecard({ rows, playbook: current, week, zone });
const replay = () => whatIf({ rows, current, draft, now: NOW, weeks: WEEKS });

function timed(fn: () => unknown): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

/** Wall and CPU (user + system, this process) milliseconds of one call. */
function timedCpu(fn: () => unknown): { wall: number; cpu: number } {
  const c0 = process.cpuUsage();
  const wall = timed(fn);
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1000 };
}

// The first replay includes compiling the calendars and the JIT's warm-up: it is what a settings page waits for.
// CPU time is printed next to wall time: on a machine shared with other work the wall time also counts the time
// the process waited for a core, which says nothing about the replay.
const first = timedCpu(replay);
const second = timedCpu(replay);
const firstMs = first.wall;
const replayMs = Math.min(firstMs, second.wall);
scorecard();
const cardMs = Math.min(timed(scorecard), timed(scorecard));
const report = replay();
console.log(
  `${N.toLocaleString('en-US')} visits: whatIf ${replayMs.toFixed(1)} ms (best of 2; first run ${firstMs.toFixed(1)} ms), ` +
    `CPU first ${first.cpu.toFixed(1)} ms, second ${second.cpu.toFixed(1)} ms, ` +
    `computeScorecard ${cardMs.toFixed(1)} ms, ratio ${(replayMs / cardMs).toFixed(1)}x; ` +
    `${report.totals.visits.toLocaleString('en-US')} visits in ${WEEKS} weeks, ${report.flipsTotal.toLocaleString('en-US')} flips, ` +
    `${report.totals.draft.unknown.toLocaleString('en-US')} unknown`,
);
