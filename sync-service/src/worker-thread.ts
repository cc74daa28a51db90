import { Worker } from 'node:worker_threads';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import type { Playbook } from '@stagekeeper/shared';
import { workerResourceLimits } from './heap';
import { errorSummary, type Logger } from './log';
import { registry } from './metrics';

export type ThreadMetrics = MetricObjectWithValues<MetricValue<string>>[];

/** What the thread starts from: the same configuration and playbook as the process that spawns it. */
export type WorkerThreadData = {
  /** The environment config.ts reads (the one the main thread resolved: REDIS_URL, KEY_PREFIX... set). */
  env: Record<string, string | undefined>;
  playbook: Playbook;
  /** The sandbox portal, reached over HTTP as from a worker-role process. */
  remoteSandbox?: { url: string; portalId: string; token: string; secret: string };
  /** The demo's scaled clock (demo/clock.ts), rebuilt in the thread from where it started and its speed. */
  clock?: { origin: number; speed: number };
  /** The thread's reconcile poll interval (tests lengthen it to see the forwarded wake alone at work). */
  reconcilePollMs?: number;
};

export type ToThread =
  | { type: 'metrics'; id: number }
  | { type: 'close' }
  | { type: 'reseeded'; id: number; error?: string }
  | { type: 'reconcileDue'; at: number };
export type FromThread =
  | { type: 'ready' }
  | { type: 'reseed'; id: number }
  | { type: 'failed'; message: string }
  | { type: 'metrics'; id: number; metrics: ThreadMetrics }
  | { type: 'closed' };

export type WorkerThread = {
  /** The thread's own counters and histograms (its SLA firings, HubSpot calls, job durations). */
  metrics(): Promise<ThreadMetrics>;
  /** Drains the thread's workers (jobs in flight finish and save), then ends it. */
  close(): Promise<void>;
  /**
   * A reconcile request added here (a webhook's deals) falls due at `at` (wall clock): the thread's poller looks
   * then rather than at its next poll, up to 200 ms later, as a poller in this thread would.
   */
  reconcileDue(at: number): void;
};

/**
 * The thread's entry: TypeScript under tsx (npm start, tests) is loaded through tsx's API, as a worker thread
 * does not inherit the parent's loader on Node 20; the built service (dist/) has it as plain JavaScript beside
 * main.js (build.mjs leaves this file's import.meta.url as the bundle's own).
 */
function spawn(data: WorkerThreadData): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts'))
    return new Worker(new URL('./worker-thread-entry.js', here), {
      workerData: data,
      resourceLimits: workerResourceLimits,
    });
  const entry = new URL('./worker-thread-entry.ts', here).href;
  return new Worker(
    `import('tsx/esm/api').then(({ tsImport }) => tsImport(${JSON.stringify(entry)}, ${JSON.stringify(here)}))`,
    { eval: true, workerData: data, resourceLimits: workerResourceLimits },
  );
}

/**
 * SERVICE_ROLE=all with its workers (reconcile and timer pollers, ingest, sweep, paging) in a worker thread: what a
 * worker-role process would run, started from the same configuration, so HTTP (webhooks, the deal card) keeps an
 * event loop of its own, as in the split deployment (issue #18: during a 10,000-deal move a card read waited
 * behind the workers' batch answers on the one loop). Resolves once the thread's workers are up.
 *
 * `onCrash`: the thread ended other than by `close` (an uncaught error, Redis gone for good). A process without
 * its workers must not go on answering webhooks into queues nobody works, so main.ts exits and is restarted.
 * `reseed`: what this thread put in Redis at start (install record, playbook), put back when the thread's data-loss
 * guard finds Redis emptied first: one thread provisions, so one seeds.
 */
export async function startWorkerThread(
  data: WorkerThreadData,
  { log, onCrash, reseed }: { log: Logger; onCrash: (err: Error) => void; reseed: () => Promise<void> },
): Promise<WorkerThread> {
  const worker = spawn(data);
  let closing = false;
  let nextId = 0;
  const pending = new Map<number, (m: ThreadMetrics) => void>();
  let closed: (() => void) | undefined;
  let exited = false;
  const ended = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  // An error event is followed by the exit: the crash is reported once.
  const crashed = (err: Error) => {
    if (closing) return;
    closing = true;
    onCrash(err);
  };

  await new Promise<void>((resolve, reject) => {
    let up = false;
    worker.on('message', (m: FromThread) => {
      if (m.type === 'ready') {
        up = true;
        resolve();
      } else if (m.type === 'failed') {
        // Whatever it had opened (a Redis connection) goes with it.
        closing = true;
        void worker.terminate();
        reject(new Error(`worker thread failed to start: ${m.message}`));
      } else if (m.type === 'metrics') {
        pending.get(m.id)?.(m.metrics);
        pending.delete(m.id);
      } else if (m.type === 'closed') closed?.();
      else if (m.type === 'reseed')
        void reseed().then(
          () => worker.postMessage({ type: 'reseeded', id: m.id } satisfies ToThread),
          (err: unknown) =>
            worker.postMessage({
              type: 'reseeded',
              id: m.id,
              error: err instanceof Error ? err.message : String(err),
            } satisfies ToThread),
        );
    });
    worker.on('error', (err) => {
      if (!up) return reject(err);
      log.error({ err: errorSummary(err) }, 'worker thread failed');
      crashed(err);
    });
    worker.once('exit', (code) => {
      exited = true;
      for (const answer of pending.values()) answer([]);
      pending.clear();
      if (!up) return reject(new Error(`worker thread exited with ${code} before its workers were up`));
      crashed(new Error(`worker thread exited with ${code}`));
    });
  });
  log.info('workers running in a worker thread');
  let lastDue: number | undefined;

  return {
    metrics: () =>
      new Promise<ThreadMetrics>((resolve) => {
        // A thread gone has no series to add (and would never answer).
        if (exited) return resolve([]);
        const id = nextId++;
        pending.set(id, resolve);
        worker.postMessage({ type: 'metrics', id } satisfies ToThread);
      }),
    // One message per due time of the webhook deliveries this thread fans out (bulk deliveries go through the
    // ingest queue, which the thread works itself): due times fall on the debounce window's grid, so deliveries
    // within one window share one, and each message wakes the thread. The poller keeps only the earliest wake
    // (DuePoller.wakeAt); a due time already passed never comes again (each is at least one window ahead).
    reconcileDue: (at) => {
      if (exited || closing || at === lastDue) return;
      lastDue = at;
      worker.postMessage({ type: 'reconcileDue', at } satisfies ToThread);
    },
    close: async () => {
      if (closing) return ended;
      closing = true;
      const drained = new Promise<void>((resolve) => (closed = resolve));
      worker.postMessage({ type: 'close' } satisfies ToThread);
      await Promise.race([drained, ended]);
      await worker.terminate();
    },
  };
}

/**
 * Metrics a worker thread reports to its process: its own series, less those the main thread already reports
 * for the whole process (process and Node.js figures: one process, counted once) or for both (queue depths,
 * read from Redis by each).
 */
export function threadOwnMetrics(all: ThreadMetrics): ThreadMetrics {
  return all.filter(
    (m) =>
      !m.name.startsWith('stagekeeper_process_') &&
      !m.name.startsWith('stagekeeper_nodejs_') &&
      m.name !== 'stagekeeper_queue_depth',
  );
}

/** The process's metrics: the main thread's registry and the worker thread's series, counters summed. */
async function processRegistry(thread: WorkerThread | undefined) {
  if (!thread) return registry;
  const [own, theirs] = await Promise.all([registry.getMetricsAsJSON(), thread.metrics()]);
  // prom-client's cluster aggregation omits some process figures (the start time: processes differ); here there is
  // one process, whose figures only this thread reports, so they are kept as they are.
  const kept = own.map((m) => (m.aggregator === 'omit' ? { ...m, aggregator: 'first' as const } : m));
  return AggregatorRegistry.aggregate([kept, theirs]);
}

/** What /metrics serves (Prometheus text). */
export const processMetrics = async (thread: WorkerThread | undefined): Promise<string> =>
  (await processRegistry(thread)).metrics();

/** The same as JSON (prom-client's shape): the benchmarks read the SLA counters from it. */
export const processMetricsJson = async (thread: WorkerThread | undefined): Promise<ThreadMetrics> =>
  (await processRegistry(thread)).getMetricsAsJSON() as Promise<ThreadMetrics>;
