import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

// The benchmarks' quick mode end to end: it must run and write one run's results in the agreed shape. Figures at
// this size (and on a shared machine) mean nothing, so none is asserted, only that each is there.
it('npm run bench --quick writes one run, at one commit, with figures and targets', () => {
  const out = join(mkdtempSync(join(tmpdir(), 'bench-smoke-')), 'latest.json');
  const run = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'test/bench/run.ts', '--quick', '--only', 'cost,history'],
    { cwd: REPO, env: { ...process.env, BENCH_RESULTS: out }, encoding: 'utf8', timeout: 280_000 },
  );
  expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
  const file = JSON.parse(readFileSync(out, 'utf8')) as {
    run: { mode: string; git: { commit: string; dirty: boolean }; failed: Record<string, string> };
    benches: Record<
      string,
      { figures: Record<string, unknown>; ratio: { value: number }; targets: unknown[] }
    >;
  };
  expect(file.run.mode).toBe('quick');
  expect(file.run.git.commit).toMatch(/^[0-9a-f]{40}$/);
  expect(typeof file.run.git.dirty).toBe('boolean');
  expect(file.run.failed).toEqual({});
  expect(Object.keys(file.benches).sort()).toEqual(['cost', 'history']);
  for (const bench of Object.values(file.benches)) {
    expect(Number.isFinite(bench.ratio.value)).toBe(true);
    expect(bench.targets.length).toBeGreaterThan(0);
    for (const t of bench.targets)
      expect(t).toMatchObject({
        name: expect.any(String),
        target: expect.any(String),
        value: expect.any(Number),
        unit: expect.any(String),
        met: expect.any(Boolean),
      });
  }
  const cost = file.benches.cost!.figures;
  for (const k of ['singleCpuMsPerTransition', 'bulkCommandsPerTransition', 'bytesPerTrackedDeal'])
    expect(Number.isFinite(cost[k])).toBe(true);
}, 300_000);
