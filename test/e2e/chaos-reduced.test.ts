import { expect, it } from 'vitest';
import { formatReport, runChaos } from '../chaos/run';

/**
 * The chaos suite at small scale (the full run is `npm run test:chaos`): 150 stage moves through a web process and
 * two worker processes on a private redis-server, with duplicated, reordered and dropped webhooks, a 5xx storm,
 * a 429 storm and a Redis restart. Its own Redis, never the shared one.
 * The worker SIGKILL is left to the full run: a job killed mid-flight waits for BullMQ's 30 s lock to expire and a
 * stalled-job check (30-60 s in all), which alone would take this run past its one-minute budget.
 */
it('loses nothing under duplicated, reordered and dropped webhooks, 5xx and 429 storms and a Redis restart', async () => {
  const report = await runChaos({
    deals: 40,
    transitions: 150,
    movesPerSecond: 15,
    seed: 11,
    webhook: { duplicateRate: 0.15, dropRate: 0.04, reorder: true },
    api: { http5xxRate: 0.03, lostResponseRate: 0.02 },
    at: { storm5xx: 0.2, storm429: 0.4, redisRestart: 0.6 },
    storm5xx: { rate: 0.6, ms: 1_500 },
    storm429: { ms: 1_000 },
    redisDownMs: 1_000,
    budgetMs: 55_000,
    rateLimitPer10s: 5_000,
    print: (l) => console.log(l),
  });
  console.log(formatReport(report));
  expect(report.faults.webhookEventsDuplicated).toBeGreaterThan(0);
  expect(report.faults.webhookEventsDropped).toBeGreaterThan(0);
  expect(report.faults.api5xx).toBeGreaterThan(0);
  expect(report.faults.api429).toBeGreaterThan(0);
  expect(report.faults.redisRestarts).toBe(1);
  expect(report.faults.unexpectedProcessExits).toBe(0);
  expect(report.beforeSweep.unexplained).toBe(0);
  expect(report.discrepancies.byKind).toEqual(Object.fromEntries(Object.keys(report.discrepancies.byKind).map((k) => [k, 0])));
  expect(report.discrepancies.total).toBe(0);
  // Every acknowledged webhook was fanned out: none of its ingest jobs gave up.
  expect(report.ingestJobsFailed).toBe(0);
}, 90_000);
