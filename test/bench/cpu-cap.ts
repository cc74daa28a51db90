/**
 * Holds benchmark child processes to a fixed share of one core, as `cpulimit` does: each is stopped (SIGSTOP) and
 * continued (SIGCONT) so that it runs during `share` of every period at most. On a 2-core machine that is how two
 * service processes can be CPU-bound and still leave a core to the sandbox, Redis and the load generator.
 *
 * The stopping and continuing happen in a small process of their own (this file, run as a script): in the bench's
 * process the sandbox keeps the event loop busy, and a late timer there would stretch a child's running window.
 * The children's windows are staggered over the period (child i starts at i/n of it), so with share * n <= 1 no two
 * capped children run at once and each finds a core free when its turn comes.
 *
 * The CPU a process used is read from /proc (`processCpuMs`), not asked of the process: a stopped process
 * answers nothing until its next window.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { isMain } from './common';

const SELF = fileURLToPath(import.meta.url);
/** Linux clock ticks per second for /proc/<pid>/stat times (USER_HZ, 100 on every mainstream kernel). */
const CLOCK_TICKS_PER_S = 100;

export type CpuCap = {
  share: number;
  periodMs: number;
  /** Stops the limiter and leaves every child running (a stopped child would never see SIGTERM). */
  release(): Promise<void>;
};

/** User + system CPU of a process (all its threads) so far, ms, from /proc/<pid>/stat. */
export function processCpuMs(pid: number): number {
  return statCpuMs(`/proc/${pid}/stat`);
}

/** utime + stime of a /proc stat file (a process's or one thread's), ms. */
function statCpuMs(path: string): number {
  const stat = readFileSync(path, 'utf8');
  // Fields after the command name (which may hold spaces, hence the last ')'): utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_S;
}

/**
 * User + system CPU of each thread of a process so far, ms, by thread id, from /proc/<pid>/task/<tid>/stat (a
 * thread that ends between the listing and the read is left out).
 */
export function threadCpuMs(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      out.set(Number(tid), statCpuMs(`/proc/${pid}/task/${tid}/stat`));
    } catch {
      // gone: it costs nothing from now on
    }
  }
  return out;
}

/**
 * How often each thread of a process went to sleep so far (its voluntary context switches: each one a later wake),
 * by thread id, from /proc/<pid>/task/<tid>/status. On a virtual machine a wake is what an idle thread's CPU is
 * made of (40-250 µs each on these machines).
 */
export function threadWakes(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      out.set(Number(tid), Number(/^voluntary_ctxt_switches:\s+(\d+)$/m.exec(status)![1]));
    } catch {
      // gone
    }
  }
  return out;
}

/**
 * Time a process's main thread (its event loop: the JS work) ran on a CPU and time it was ready to run but waited
 * for one, ms, from /proc/<pid>/schedstat. On a loaded machine a process that used little CPU may still have
 * wanted it all the time: run + wait is what its event loop asked for, and near its cap means it was CPU-bound.
 * (Summed over all threads the waits of the libuv and GC threads would overlap and exceed the wall time.)
 */
export function processSchedMs(pid: number): { runMs: number; waitMs: number } {
  const [run, wait] = readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ').map(Number);
  return { runMs: run! / 1e6, waitMs: wait! / 1e6 };
}

export async function capCpu(pids: number[], share: number, periodMs = 100): Promise<CpuCap> {
  if (!(share > 0 && share < 1)) throw new Error(`cpu cap: share must be in (0, 1), got ${share}`);
  const limiter = spawn(process.execPath, ['--import', 'tsx', SELF], {
    env: {
      ...process.env,
      CPU_CAP_PIDS: pids.join(','),
      CPU_CAP_SHARE: String(share),
      CPU_CAP_PERIOD_MS: String(periodMs),
    },
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: limiter.stdout! }).on('line', (line) => {
      if (line === 'cpu-cap ready') resolve();
    });
    limiter.once('exit', (code) => reject(new Error(`cpu cap: limiter exited with ${code} before ready`)));
  });
  return {
    share,
    periodMs,
    release: async () => {
      if (limiter.exitCode === null) {
        const exited = new Promise((r) => limiter.once('exit', r));
        limiter.kill('SIGTERM');
        await exited;
      }
      // Whatever the limiter managed before it went: every child continues.
      for (const pid of pids) signal(pid, 'SIGCONT');
    },
  };
}

function signal(pid: number, sig: 'SIGSTOP' | 'SIGCONT'): void {
  try {
    process.kill(pid, sig);
  } catch {
    // the child has exited: nothing to hold
  }
}

/** The limiter itself: runs until SIGTERM or until the bench that started it is gone, then continues every child. */
function limit(pids: number[], share: number, periodMs: number): void {
  const start = performance.now();
  const running = pids.map(() => true);
  const window = share * periodMs;
  const offset = (i: number) => (i * periodMs) / pids.length;
  let timer: NodeJS.Timeout | undefined;
  const tick = () => {
    const now = performance.now() - start;
    let next = Infinity;
    pids.forEach((pid, i) => {
      const phase = (((now - offset(i)) % periodMs) + periodMs) % periodMs;
      const run = phase < window;
      if (run !== running[i]) {
        signal(pid, run ? 'SIGCONT' : 'SIGSTOP');
        running[i] = run;
      }
      next = Math.min(next, run ? window - phase : periodMs - phase);
    });
    timer = setTimeout(tick, Math.max(1, next));
  };
  const end = () => {
    clearTimeout(timer);
    for (const pid of pids) signal(pid, 'SIGCONT');
    process.exit(0);
  };
  process.on('SIGTERM', end);
  process.on('disconnect', end);
  tick();
  process.stdout.write('cpu-cap ready\n');
}

if (isMain(import.meta.url)) {
  const pids = (process.env.CPU_CAP_PIDS ?? '').split(',').filter(Boolean).map(Number);
  limit(pids, Number(process.env.CPU_CAP_SHARE), Number(process.env.CPU_CAP_PERIOD_MS));
}
