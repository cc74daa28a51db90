import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

/** BENCH_RESULTS moves the file (the smoke test writes elsewhere, leaving the committed figures alone). */
export const RESULTS =
  process.env.BENCH_RESULTS ?? fileURLToPath(new URL('./results/latest.json', import.meta.url));
const REPO = fileURLToPath(new URL('../..', import.meta.url));

export type Target = {
  name: string;
  target: string;
  value: number;
  unit: string;
  met: boolean;
  note?: string;
};
export type BenchResult = {
  name: string;
  /** Measured figures, flat, with units in the key names. */
  figures: Record<string, number | string | boolean>;
  baseline: { what: string; figures: Record<string, number | string> };
  ratio: { what: string; value: number };
  targets: Target[];
  notes?: string[];
  /** Added by the runner: when this bench ran and the load then. */
  measuredAt?: string;
  loadavg1m?: number;
};

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `n` steps, step i started at i / rate seconds (or when step i - 1 ends, if later): traffic at a steady rate
 * (rate 0: back to back).
 */
export async function paced(n: number, rate: number, step: (i: number) => unknown): Promise<void> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const wait = t0 + (rate > 0 ? (i * 1000) / rate : 0) - performance.now();
    if (wait > 0) await sleep(wait);
    await step(i);
  }
}

/** Nearest-rank percentile of an unsorted sample (sorts a copy). */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

export function table(title: string, rows: (string | number)[][]): string {
  const cells = rows.map((r) => r.map((c) => (typeof c === 'number' ? String(round(c)) : c)));
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [
    `\n${title}`,
    line(cells[0]!),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...cells.slice(1).map(line),
  ].join('\n');
}

export function printTargets(r: BenchResult): void {
  console.log(`  baseline: ${r.baseline.what}`);
  console.log(`  ratio: ${r.ratio.what} = ${round(r.ratio.value)}x`);
  for (const t of r.targets)
    console.log(
      `  target ${t.met ? 'MET   ' : 'MISSED'} ${t.name}: ${round(t.value)} ${t.unit} (target ${t.target})${t.note ? ` (${t.note})` : ''}`,
    );
  for (const n of r.notes ?? []) console.log(`  note: ${n}`);
}

/**
 * The files `git status --porcelain` names, less the results file (not code: a run that rewrote it leaves the
 * figures one commit's). Lines are `XY path`: trimming the output first would eat a leading blank status column
 * (" M path") and with it the path's first letter.
 */
export function changedFiles(porcelain: string, resultsFile: string): string[] {
  return porcelain
    .split('\n')
    .filter((l) => l.length > 3)
    .map((l) => l.slice(3))
    .filter((f) => f !== resultsFile);
}

/** The commit the figures belong to, and whether the tree had changes the commit does not hold. */
export function gitState(): { commit: string; dirty: boolean; dirtyFiles: string[] } {
  const git = (...args: string[]) =>
    execFileSync('git', args, { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    const dirtyFiles = changedFiles(
      git('status', '--porcelain', '--untracked-files=no'),
      relative(REPO, RESULTS),
    );
    return { commit: git('rev-parse', 'HEAD').trim(), dirty: dirtyFiles.length > 0, dirtyFiles };
  } catch {
    return { commit: 'unknown', dirty: true, dirtyFiles: [] };
  }
}

/**
 * Writes results/latest.json from this run alone: one commit, one run. A bench that did not run (skipped,
 * failed) is absent or listed as failed, never carried over from an earlier file.
 */
export function writeRun(
  results: BenchResult[],
  run: {
    mode: string;
    args: string[];
    startedAt: string;
    sizes?: Record<string, number>;
    failed?: Record<string, string>;
    /** gitState() when the run started: a commit or an edit during the run makes the figures not one commit's. */
    gitAtStart?: ReturnType<typeof gitState>;
  },
): void {
  const { gitAtStart, ...meta } = run;
  const atEnd = gitState();
  const git = gitAtStart
    ? {
        ...gitAtStart,
        dirty: gitAtStart.dirty || atEnd.dirty || atEnd.commit !== gitAtStart.commit,
        dirtyFiles: [...new Set([...gitAtStart.dirtyFiles, ...atEnd.dirtyFiles])],
        ...(atEnd.commit !== gitAtStart.commit ? { commitAtEnd: atEnd.commit } : {}),
      }
    : atEnd;
  mkdirSync(dirname(RESULTS), { recursive: true });
  const out = {
    run: {
      ...meta,
      finishedAt: new Date().toISOString(),
      git,
      failed: run.failed ?? {},
    },
    machine: {
      cpus: cpus().length,
      model: cpus()[0]?.model ?? '',
      node: process.version,
      loadavg1m: round(loadavg()[0]!),
    },
    benches: Object.fromEntries(results.map((r) => [r.name, r])),
  };
  writeFileSync(RESULTS, `${JSON.stringify(out, null, 2)}\n`);
}

/** A bench module run on its own (tsx test/bench/<name>.ts) writes a file holding that bench only. */
export function saveResult(r: BenchResult): void {
  writeRun([r], { mode: 'single', args: process.argv.slice(2), startedAt: new Date().toISOString() });
}

/** Runs a bench module's `run` when the file is executed directly (tsx test/bench/<name>.ts). */
export function isMain(url: string): boolean {
  return process.argv[1] !== undefined && fileURLToPath(url) === process.argv[1];
}

/**
 * The command line of a bench file run on its own: each flag either sets options from its value (`--deals 300`)
 * or, given no value, is a preset (`--full`). Presets apply first, so a value flag given with one wins.
 */
export type Flags<O> = Record<string, ((value: string) => Partial<O>) | Partial<O>>;

/** A flag whose value is a number, for option `key`. */
export const numberFlag =
  <K extends string>(key: K) =>
  (value: string) =>
    ({ [key]: Number(value) }) as Record<K, number>;

/**
 * When the bench file is executed directly (tsx test/bench/<name>.ts): runs it with its flags, writes a results
 * file holding that bench only, exits (the service children and sandboxes would otherwise hold the process).
 */
export async function runIfMain<O>(
  url: string,
  run: (opts: O) => Promise<BenchResult>,
  flags: Flags<O> = {},
): Promise<void> {
  if (!isMain(url)) return;
  const { values } = parseArgs({
    options: Object.fromEntries(
      Object.entries(flags).map(([name, f]) => [
        name,
        { type: typeof f === 'function' ? ('string' as const) : ('boolean' as const) },
      ]),
    ),
  });
  const given = Object.entries(flags).filter(([name]) => values[name] !== undefined);
  const opts: Partial<O> = {};
  for (const [, f] of given) if (typeof f !== 'function') Object.assign(opts, f);
  for (const [name, f] of given) if (typeof f === 'function') Object.assign(opts, f(String(values[name])));
  saveResult(await run(opts as O));
  process.exit(0);
}
