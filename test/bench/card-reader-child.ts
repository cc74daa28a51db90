/**
 * The reps of the card bench, in a process of their own (card-readers.ts starts it): signed card reads on a few
 * loops, each its own fetch, so that the sandbox portal serving a bulk move in the bench's process cannot delay
 * the readers' timers and sockets and be counted as the service's latency. Its own event-loop delay is measured
 * too, so a read the reader itself held up can be told apart. Driven over IPC: start, count, stop.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseServerTiming } from '@stagekeeper/sync-service/api/server-timing';
import { sleep } from './common';
import type { CardRead, CardReaderConfig } from './card-readers';
import { signedGet } from './signed-get';

type Message =
  | { type: 'start'; id: number; cfg: CardReaderConfig }
  | { type: 'count'; id: number }
  | { type: 'stop'; id: number };

// The bench that started this process is gone: so is its reason to run.
process.on('disconnect', () => process.exit(1));

const loop = monitorEventLoopDelay({ resolution: 5 });
let reads: CardRead[] = [];
let running = false;
let loops: Promise<void>[] = [];

function start(cfg: CardReaderConfig): void {
  reads = [];
  running = true;
  loop.reset();
  loop.enable();
  loops = Array.from({ length: cfg.readers }, async (_, r) => {
    for (let i = r; running; i += cfg.readers) {
      const t0 = performance.now();
      const res = await signedGet(
        cfg.url,
        cfg.secret,
        cfg.portalId,
        `/api/card/deal/${cfg.deals[i % cfg.deals.length]}`,
      ).catch(() => undefined);
      const ms = performance.now() - t0;
      const source = (res?.body as { freshness?: { source?: string } } | undefined)?.freshness?.source;
      reads.push({
        ms,
        status: res?.status ?? 0,
        ...(source ? { source } : {}),
        timing: parseServerTiming(res?.headers.get('server-timing')),
      });
      await sleep(Math.max(0, cfg.everyMs - (performance.now() - t0)));
    }
  });
}

process.on('message', (m: Message) => {
  if (m.type === 'start') {
    start(m.cfg);
    process.send!({ id: m.id });
  }
  if (m.type === 'count') process.send!({ id: m.id, count: reads.length });
  if (m.type === 'stop') {
    running = false;
    void Promise.all(loops).then(() => {
      loop.disable();
      process.send!({
        id: m.id,
        reads,
        loopMaxMs: loop.max / 1e6,
        loopP99Ms: loop.percentile(99) / 1e6,
      });
    });
  }
});
process.send!({ ready: true });
