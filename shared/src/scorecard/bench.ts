/**
 * `npx tsx shared/src/scorecard/bench.ts [rows]`: computeScorecard on generated rows against a baseline loop that
 * only sums businessMs over the same row objects, so the ratio shows the cost of the scorecard itself rather than
 * of the machine.
 */
import { loadExamplePlaybook } from '../playbook/load-file';
import type { HistoryRow } from '../engine/types';
import { BREACH_REASONS } from '../playbook/schema';
import { computeScorecard } from './compute';
import { weekRange } from './week';

const N = Number(process.argv[2] ?? 1_000_000);
const playbook = loadExamplePlaybook('telehealth');
const week = '2026-W47';
const zone = playbook.calendars[0]!.timeZone;
const { start, end } = weekRange(week, zone);

// A fixed-seed generator so runs are comparable.
let seed = 42;
const rand = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
const stages = playbook.pipelines.flatMap((pl) => pl.stages.map((st) => ({ pl, st })));

function makeRows(n: number): HistoryRow[] {
  const rows: HistoryRow[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const { pl, st } = stages[Math.floor(rand() * stages.length)]!;
    const exitedAt = start + Math.floor(rand() * (end - start) * 1.1);
    const businessMs = Math.floor(rand() * 40 * 3600_000);
    const outcome = (['met', 'breached', 'none', 'cancelled'] as const)[Math.floor(rand() * 4)]!;
    rows[i] = {
      dealId: String(1e9 + i),
      pipeline: pl.id,
      stage: st.id,
      ownerRole: st.ownerRole,
      ownerId: null,
      enteredAt: exitedAt - businessMs,
      exitedAt,
      businessMs,
      toStage: null,
      direction: (['forward', 'backward', 'exit'] as const)[Math.floor(rand() * 3)]!,
      slaOutcome: outcome,
      breachReason:
        outcome === 'breached' ? BREACH_REASONS[Math.floor(rand() * BREACH_REASONS.length)]! : null,
    };
  }
  return rows;
}

const rows = makeRows(N);

function baseline(): number {
  let sum = 0;
  for (let i = 0; i < rows.length; i++) sum += rows[i]!.businessMs;
  return sum;
}

function best(fn: () => unknown, runs: number): number {
  let min = Infinity;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    fn();
    min = Math.min(min, performance.now() - t0);
  }
  return min;
}

// Warm both up so the JIT has compiled them before timing.
baseline();
computeScorecard({ rows, playbook, week, zone });
const baseMs = best(baseline, 5);
const cardMs = best(() => computeScorecard({ rows, playbook, week, zone }), 5);
// Fresh row objects, as after reading from Redis: the first pass over them is the realistic cold case.
const fresh = makeRows(N);
const firstCold = (() => {
  const t0 = performance.now();
  computeScorecard({ rows: fresh, playbook, week, zone });
  return performance.now() - t0;
})();
const card = computeScorecard({ rows, playbook, week, zone });
console.log(
  `${N.toLocaleString('en-US')} rows: computeScorecard ${cardMs.toFixed(1)} ms (best of 5; fresh rows ${firstCold.toFixed(1)} ms), ` +
    `baseline sum ${baseMs.toFixed(1)} ms, ratio ${(cardMs / baseMs).toFixed(1)}x; ${card.totals.volume.toLocaleString('en-US')} visits in ${week}`,
);
