import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const METRICS = fileURLToPath(new URL('./metrics.ts', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Times a process's main thread went to sleep and was woken again, so far (Linux). */
const wakes = (pid: number) =>
  Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);

describe('metrics', () => {
  // Every thread that loads the registry (the HTTP thread and the workers' thread) runs prom-client's event-loop
  // monitor. At its default 10 ms precision it woke each idle thread 100 times a second: on a virtual machine a
  // wake costs 40-250 µs of CPU, about a third of an idle service's CPU.
  it.skipIf(!existsSync('/proc/self/status'))(
    "wakes an idle thread about 10 times a second, not prom-client's default 100",
    async () => {
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          '--input-type=module',
          '-e',
          `await import(${JSON.stringify(METRICS)}); console.log('ready'); setInterval(() => {}, 1e9);`,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      try {
        await new Promise<void>((resolve, reject) => {
          child.stdout.on('data', (d: Buffer) => String(d).includes('ready') && resolve());
          child.once('exit', (code) => reject(new Error(`child exited with ${code}`)));
        });
        await sleep(300); // past the module's start-up
        const before = wakes(child.pid!);
        await sleep(2_000);
        // A loaded machine fires timers late, which can only lower the count.
        expect(wakes(child.pid!) - before).toBeLessThanOrEqual(60);
      } finally {
        child.kill('SIGKILL');
      }
    },
  );
});
