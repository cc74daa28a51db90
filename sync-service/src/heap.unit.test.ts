import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { WORKER_NODE_FLAGS, WORKER_SEMI_SPACE_MB, workerResourceLimits } from './heap';

/** The largest new space (two semi-spaces) a thread reaches while allocating short-lived objects, MB. */
function nurseryPeak(resourceLimits?: { maxYoungGenerationSizeMb: number }): Promise<number> {
  const code = `
    const v8 = require('v8');
    let max = 0, kept = [];
    for (let i = 0; i < 2e7; i++) {
      kept.push({ i });
      if (kept.length > 3e5) kept = [];
      if (i % 1e5 === 0) {
        const mb = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size / 2 ** 20;
        if (mb > max) max = mb;
      }
    }
    require('worker_threads').parentPort.postMessage(max);`;
  return new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true, ...(resourceLimits ? { resourceLimits } : {}) });
    w.once('message', (mb: number) => void w.terminate().then(() => resolve(mb)));
    w.once('error', reject);
  });
}

describe("the workers' young generation (heap.ts)", () => {
  it('gives a worker thread semi-spaces of WORKER_SEMI_SPACE_MB, where V8 alone stops at 16 MB', async () => {
    expect(await nurseryPeak(workerResourceLimits)).toBe(2 * WORKER_SEMI_SPACE_MB);
    expect(await nurseryPeak()).toBe(2 * 16);
  });

  it('is what npm run start:prod gives a process', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      scripts: Record<string, string>;
    };
    for (const flag of WORKER_NODE_FLAGS) expect(pkg.scripts['start:prod']!.split(' ')).toContain(flag);
  });
});
