import { expect, it } from 'vitest';
import { formatReport, runChaos } from '../chaos/run';

/**
 * Proof that the chaos verifier catches an engine value bug the replay-based verifier could not: every service
 * process runs an engine whose SLA due times are one minute late (task, property and breach timer alike,
 * test/chaos/engine-bug.ts). A replay through that same engine agrees with it; the rules computed from the
 * playbook do not. No faults: the bug alone must be found.
 */
it('a consistent off-by-one-minute in due times fails the chaos verification', async () => {
  const never = 2; // "at" fractions above 1: the disruption never starts
  const report = await runChaos({
    deals: 8,
    transitions: 16,
    movesPerSecond: 8,
    seed: 5,
    webhook: { duplicateRate: 0, dropRate: 0, reorder: false },
    api: { http5xxRate: 0, lostResponseRate: 0 },
    at: { storm5xx: never, storm429: never, redisRestart: never },
    storm5xx: { rate: 0, ms: 0 },
    storm429: { ms: 0 },
    redisDownMs: 0,
    budgetMs: 60_000,
    rateLimitPer10s: 5_000,
    speed: 60,
    engineBug: 'due-plus-1m',
  });
  console.log(formatReport(report));
  expect(report.discrepancies.byKind.due).toBeGreaterThan(0);
  expect(
    report.discrepancies.examples.some((d) => d.kind === 'due' && /entry \+ target/.test(d.detail)),
  ).toBe(true);
}, 120_000);
