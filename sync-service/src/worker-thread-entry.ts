/**
 * The worker thread of SERVICE_ROLE=all (worker-thread.ts): a worker-role stack (queues, pollers, sweeps, paging;
 * no HTTP) on its own event loop, from the configuration and playbook the main thread passed.
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { Redis } from 'ioredis';
import { APP_REDIS_OPTIONS } from './redis-bootstrap';
import { loadConfig } from './config';
import { scaledClockAt } from './demo/clock';
import { createTokenProvider } from './install/mode';
import { createLogger, errorSummary } from './log';
import { registry } from './metrics';
import { startStack } from './stack';
import { threadOwnMetrics, type FromThread, type ToThread, type WorkerThreadData } from './worker-thread';

/**
 * How much lower than HTTP's this thread runs (Linux nice, 0-19). Bulk work yields: with both threads busy, a card
 * read or a webhook gets the CPU first (CFS weights at nice 10 are about 1:9), and the thread still has every cycle
 * HTTP leaves idle. During a 10,000-deal move the HTTP thread is about 1 % busy, so the workers lose next to nothing.
 */
const WORKER_NICE = 10;

/** Lowers this thread's priority only (Linux: a thread's id from /proc/thread-self); elsewhere, nothing. */
function yieldToHttp(log: { debug(obj: object, msg: string): void }): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid)) setPriority(tid, WORKER_NICE);
  } catch (err) {
    log.debug({ err: err instanceof Error ? err.message : String(err) }, 'worker thread priority unchanged');
  }
}

const port = parentPort!;
const data = workerData as WorkerThreadData;
const send = (m: FromThread) => port.postMessage(m);

/** The main thread provisions and seeds; after a data loss this thread's guard asks it to seed again. */
let nextSeed = 0;
const seeding = new Map<number, { resolve: () => void; reject: (err: Error) => void }>();
const seededByMain = () =>
  new Promise<void>((resolve, reject) => {
    const id = nextSeed++;
    seeding.set(id, { resolve, reject });
    send({ type: 'reseed', id });
  });
port.on('message', (m: ToThread) => {
  if (m.type !== 'reseeded') return;
  const waiting = seeding.get(m.id);
  seeding.delete(m.id);
  if (m.error) waiting?.reject(new Error(`re-seeding in the main thread failed: ${m.error}`));
  else waiting?.resolve();
});

try {
  const config = loadConfig(data.env);
  const log = createLogger(config.logLevel).child({ thread: 'workers' });
  yieldToHttp(log);
  const redis = new Redis(config.redisUrl, APP_REDIS_OPTIONS);
  redis.on('error', (err: Error) => log.warn({ err: err.message }, 'redis connection error (reconnecting)'));
  // OAuth installs: the same encrypted tokens as the main thread (a refresh by either is harmless to the other, as
  // between processes: HubSpot refresh tokens do not rotate). A static token or the sandbox's: startStack's own.
  const oauth =
    !data.remoteSandbox && !config.hubspot.accessToken
      ? await createTokenProvider(config, redis, { log })
      : undefined;
  const stack = await startStack({
    config,
    playbook: data.playbook,
    ...(data.remoteSandbox ? { remoteSandbox: data.remoteSandbox } : {}),
    ...(oauth ? { tokens: oauth.tokens } : {}),
    ...(data.clock ? { clock: scaledClockAt(data.clock.origin, data.clock.speed).now } : {}),
    redis,
    redisWaitMs: config.redisWaitMs,
    http: false,
    workers: true,
    seededBy: seededByMain,
    ...(data.reconcilePollMs ? { reconcilePollMs: data.reconcilePollMs } : {}),
    log,
  });
  port.on('message', (m: ToThread) => {
    if (m.type === 'reconcileDue') stack.service.reconcilePoller?.wakeAt(m.at);
    if (m.type === 'metrics')
      void registry
        .getMetricsAsJSON()
        .then((all) => send({ type: 'metrics', id: m.id, metrics: threadOwnMetrics(all) }));
    if (m.type === 'close')
      void stack
        .close()
        .then(() => redis.quit())
        .catch((err: unknown) => log.error({ err: errorSummary(err) }, 'worker thread shutdown failed'))
        .finally(() => send({ type: 'closed' }));
  });
  send({ type: 'ready' });
} catch (err) {
  send({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
}
