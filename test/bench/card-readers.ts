/**
 * Reps reading deal cards, for the benches: a process of their own (card-reader-child.ts) so that their latencies
 * are the service's and the network's, not those of the bench process, which also plays HubSpot (the sandbox
 * portal) for the whole bulk move. Start, wait for a number of reads, stop; each stop returns the reads and the
 * reader process's own event-loop delay over the spell, so a read the reader held up can be told apart.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { sleep } from './common';

const CHILD = fileURLToPath(new URL('./card-reader-child.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../..', import.meta.url));

/**
 * One card read seen from outside: latency, status, where its HubSpot view came from (`freshness.source`, absent
 * on an error) and the service's own account of its time (Server-Timing: phase -> ms).
 */
export type CardRead = { ms: number; status: number; source?: string; timing: Record<string, number> };

/** What a spell of reading needs: the service, the signing secret and portal, the deals, the pace. */
export type CardReaderConfig = {
  url: string;
  secret: string;
  portalId: string;
  deals: string[];
  readers: number;
  everyMs: number;
};

/** A spell's reads and the reader process's own event-loop delay over it. */
export type CardSpell = { reads: CardRead[]; loopMaxMs: number; loopP99Ms: number };

export type CardReaderProc = {
  /** Begins a spell of reads (`readers` loops, one read each `everyMs` per loop). */
  start(cfg: CardReaderConfig): Promise<void>;
  /** Reads finished in this spell so far. */
  count(): Promise<number>;
  /** Resolves once at least `n` reads of this spell finished. */
  waitFor(n: number): Promise<void>;
  /** Ends the spell (reads in flight finish first). */
  stop(): Promise<CardSpell>;
  close(): Promise<void>;
};

export async function startCardReaderProc(): Promise<CardReaderProc> {
  const proc: ChildProcess = fork(CHILD, [], {
    cwd: REPO,
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  await new Promise<void>((resolve, reject) => {
    const onReady = (m: { ready?: boolean }) => {
      if (!m.ready) return;
      proc.off('message', onReady);
      resolve();
    };
    proc.on('message', onReady);
    proc.once('exit', (code) => reject(new Error(`card reader process exited with ${code} before ready`)));
  });
  let next = 0;
  const ask = <T>(msg: Record<string, unknown>) =>
    new Promise<T>((resolve) => {
      const id = next++;
      const onMessage = (m: { id?: number } & T) => {
        if (m.id !== id) return;
        proc.off('message', onMessage);
        resolve(m);
      };
      proc.on('message', onMessage);
      proc.send({ ...msg, id });
    });
  const count = async () => (await ask<{ count: number }>({ type: 'count' })).count;
  return {
    start: async (cfg) => {
      await ask({ type: 'start', cfg });
    },
    count,
    waitFor: async (n) => {
      while ((await count()) < n) await sleep(50);
    },
    stop: async () => {
      const { reads, loopMaxMs, loopP99Ms } = await ask<CardSpell>({ type: 'stop' });
      return { reads, loopMaxMs, loopP99Ms };
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}
