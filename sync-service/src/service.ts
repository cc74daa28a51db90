import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { Worker } from 'bullmq';
import type { TimerFiring } from '@stagekeeper/shared';
import { Redis } from 'ioredis';
import type { Config } from './config';
import { sharedEngine, type DecideDeps, type Engine } from './decide';
import { HistoryWeeks } from './api/history-weeks';
import { createApiRoutes } from './api/routes';
import { createApp, type AppDeps } from './http/app';
import { createLogger, errorSummary, type Logger } from './log';
import { observeQueueDepth } from './metrics';
import type { HubSpotGateway } from './ports';
import { IngestQueue, startIngestWorker } from './queue/ingest';
import { hubspotReasonEdits } from './reasons/hubspot-edit';
import { DealHistoryReader } from './api/breach-history';
import { RedisReasonAuditLog } from './state/reason-audit-store';
import { reconcileDeals, ReconcileQueue } from './queue/reconcile';
import { LegacyReconcileJobs, startLegacyReconcileWorker } from './queue/legacy-reconcile-jobs';
import { ReconcilePoller, reconcileRunner } from './queue/reconcile-poller';
import { startSweepWorker, SweepQueue } from './queue/sweep';
import { LegacyTimerJobs, startLegacyTimerWorker } from './queue/legacy-timer-jobs';
import { TimerPoller } from './queue/timer-poller';
import { fireTimer, TimerQueue } from './queue/timers';
import { ReplayStore } from './http/replay-store';
import { DataLossGuard, type SeedReason } from './state/data-loss';
import { DealLock } from './state/deal-lock';
import { DealStateStore } from './state/deal-state-store';
import { HistoryStore } from './state/history-store';
import { APP_REDIS_OPTIONS } from './redis-bootstrap';
import { redisKeys } from './state/keys';
import { PlaybookStore, type PlaybookSource } from './state/playbook-store';
import { SweepCursorStore } from './state/sweep-cursor';
import { RoundRobinStore } from './state/round-robin-store';
import { createPaging } from './notify';

export type StartOptions = {
  config: Config;
  gateway: HubSpotGateway;
  /** Where playbooks come from; defaults to the versioned Redis store (which the settings page writes). */
  playbookSource?: PlaybookSource;
  /** An existing connection for the stores and queues; the service then leaves closing it to the caller. */
  redis?: Redis;
  engine?: Engine;
  log?: Logger;
  clock?: () => number;
  /** Overrides config.hubspot.clientSecret (e.g. the sandbox portal's own secret). */
  webhookSecret?: string;
  /**
   * The card, settings and scorecard API (hubspot.fetch from the app's components, signed like webhooks), built
   * over this service's stores and reconcile queue and mounted ahead of `routers`. Its portal activity store
   * records webhooks and sweeps unless `activity` is given.
   */
  api?: boolean;
  /** The versioned playbook store, when the caller already has one over the same Redis (stack.ts provisions). */
  playbookStore?: PlaybookStore;
  /** More routes (OAuth, the local page), mounted by the HTTP app. */
  routers?: AppDeps['routers'];
  /**
   * Web-only or worker-only processes; both by default. `operations`: HTTP for health and metrics only (a
   * worker-role process).
   */
  http?: boolean | 'operations';
  workers?: boolean;
  /** Host to bind; all interfaces by default. */
  host?: string;
  /**
   * Told about each webhook batch the ingest worker fans out and each finished sweep (the settings page's status
   * block). A small delivery moves its portal's time in Redis itself, inside its hand-off script
   * (ReconcileQueue.enqueueDelivery), where the API's store reads it.
   */
  activity?: {
    recordWebhook(portalId: string, at: number): Promise<void>;
    recordSweep(portalId: string, at: number): Promise<void>;
  };
  /**
   * Puts back what only start-up writes (the static portal's install record and playbook), when Redis has no
   * seed marker: at start, and again whenever Redis loses its data while the service runs (state/data-loss.ts).
   */
  reseed?: (reason: SeedReason) => Promise<void>;
  /** How often the service looks for the seed marker; 2 s by default. */
  dataLossCheckMs?: number;
  /**
   * Webhook deliveries naming at most this many deals are fanned out into reconcile requests before the 200,
   * without an ingest job (queue/ingest.ts InlineFanOut); bigger ones go through the ingest queue. 0: all do.
   */
  inlineFanOutMaxDeals?: number;
  /** How often a worker process polls for due timers when none is due; 200 ms by default. */
  timerPollMs?: number;
  /** How often the reconcile poller looks for due requests when nothing woke it; 200 ms by default. */
  reconcilePollMs?: number;
  /**
   * Told when a reconcile request this process added falls due, where this process has no reconcile poller of its
   * own to wake: HTTP in the main thread, its poller in the worker thread (stack.ts forwards it there).
   */
  reconcileDueAt?: (at: number) => void;
  /** How often the service looks for BullMQ timer jobs armed by older versions; a minute by default. */
  legacyTimerCheckMs?: number;
  /** What /metrics serves; this thread's registry by default (stack.ts adds a worker thread's series). */
  metrics?: AppDeps['metrics'];
};

/** A rep's move arrives alone; an import or bulk edit arrives in deliveries of up to 100 events. */
const INLINE_FAN_OUT_MAX_DEALS = 10;

export type Service = Awaited<ReturnType<typeof startService>>;

/**
 * The composition root: builds the stores, queues, workers, the API and HTTP once, on one Redis, around the
 * gateway it is given (stack.ts builds that); `close()` shuts down without dropping in-flight work.
 */
export async function startService(opts: StartOptions) {
  const { config, gateway } = opts;
  const log = opts.log ?? createLogger(config.logLevel);
  const engine = opts.engine ?? sharedEngine;
  const clock = opts.clock ?? Date.now;
  const secret = opts.webhookSecret ?? config.hubspot.clientSecret;
  const wantHttp = opts.http ?? true;
  const operationsOnly = wantHttp === 'operations';
  const wantWorkers = opts.workers ?? true;
  if (wantHttp === true && !secret)
    throw new Error('HUBSPOT_CLIENT_SECRET: required to verify webhooks (or pass webhookSecret)');

  const ownsRedis = !opts.redis;
  const redis = opts.redis ?? new Redis(config.redisUrl, { ...APP_REDIS_OPTIONS, lazyConnect: false });
  // Workers block on Redis; BullMQ requires such connections to retry forever instead of failing commands.
  const workerRedis = wantWorkers
    ? redis.duplicate({ maxRetriesPerRequest: null, enableAutoPipelining: false })
    : undefined;
  // A Redis restart surfaces as connection errors; ioredis reconnects by itself, so they are logged, not thrown.
  const onRedisError = (err: Error) =>
    log.warn({ err: err.message }, 'redis connection error (reconnecting)');
  if (ownsRedis) redis.on('error', onRedisError);
  workerRedis?.on('error', onRedisError);
  // BullMQ's queues on a connection of their own: BullMQ defines its ~50 scripts on the connection it is given,
  // and ioredis copies every script defined on a connection into each pipeline built on it (auto-pipelined
  // batches included), 50 µs instead of 3 per pipeline on the connection every store uses (issue #18).
  const queueRedis = redis.duplicate();
  queueRedis.on('error', onRedisError);

  const keys = redisKeys(config.keyPrefix);
  const bullPrefix = keys.bullPrefix();
  const playbookStore = opts.playbookStore ?? new PlaybookStore(redis, keys, log);
  const playbooks = opts.playbookSource ?? playbookStore;
  const states = new DealStateStore(redis, keys, log);
  const history = new HistoryStore(redis, keys, log);
  const cursors = new SweepCursorStore(redis, keys);
  const replay = new ReplayStore(redis, keys);
  // Reconcile requests: the due set (queue/reconcile.ts), on the wall clock; BullMQ jobs older versions left
  // are drained until they are gone.
  let reconcilePoller: ReconcilePoller | undefined;
  const legacyReconcile = new LegacyReconcileJobs(queueRedis, bullPrefix, log, opts.legacyTimerCheckMs);
  const reconcileQueue = new ReconcileQueue(
    redis,
    keys,
    config.reconcileDebounceMs,
    Date.now,
    (at) => (reconcilePoller ? reconcilePoller.wakeAt(at) : opts.reconcileDueAt?.(at)),
    legacyReconcile,
  );
  const ingestQueue = new IngestQueue(queueRedis, bullPrefix, {
    reconcile: reconcileQueue,
    maxDeals: opts.inlineFanOutMaxDeals ?? INLINE_FAN_OUT_MAX_DEALS,
  });
  // SLA timers: the due index (queue/timers.ts), and the BullMQ jobs older versions armed until they are gone.
  const legacyTimers = new LegacyTimerJobs(queueRedis, bullPrefix, log, opts.legacyTimerCheckMs);
  const timerQueue = new TimerQueue(redis, keys, clock, legacyTimers);
  const sweepQueue = new SweepQueue(queueRedis, bullPrefix);
  const stopObserving = [ingestQueue.queue, reconcileQueue, timerQueue, sweepQueue.queue].map((q) =>
    observeQueueDepth(q),
  );

  const roundRobin = new RoundRobinStore(redis, keys);
  // Beside workers, the API reads on a connection of its own: on theirs, a card's reads would wait for the
  // replies to every bulk command sent before them (issue #18: a rep's card during a bulk move).
  const apiRedis = opts.api && secret && wantWorkers && wantHttp === true ? redis.duplicate() : undefined;
  apiRedis?.on('error', onRedisError);
  const api =
    opts.api && secret && !operationsOnly
      ? createApiRoutes({
          redis: apiRedis ?? redis,
          prefix: config.keyPrefix,
          gateway,
          clientSecret: secret,
          publicUrl: config.publicUrl,
          log,
          ...(opts.clock ? { clock: opts.clock } : {}),
          enqueueReconcile: (portalId, dealIds) => reconcileQueue.enqueue(portalId, dealIds, 'manual'),
          ...(config.hubspot.tokenEncryptionKey ? { encryptionKey: config.hubspot.tokenEncryptionKey } : {}),
          stores: apiRedis
            ? {
                // A store per connection; the playbook cache is keyed by version, so two stay consistent.
                playbooks: opts.playbookStore ?? new PlaybookStore(apiRedis, keys, log),
                states: new DealStateStore(apiRedis, keys, log),
                history: new HistoryStore(apiRedis, keys, log),
                replay,
              }
            : { playbooks: playbookStore, states, history, replay },
        })
      : undefined;
  const activity = opts.activity ?? api?.activity;
  // Escalation pages (Slack, Teams, PagerDuty, signed webhooks): their own queue and worker.
  const paging = createPaging({
    redis,
    queueRedis,
    ...(workerRedis ? { workerRedis } : {}),
    prefix: config.keyPrefix,
    encryptionKey: config.hubspot.tokenEncryptionKey,
    log,
    clock,
    states,
    appOrigin: config.hubspotAppOrigin,
  });

  // Seeding comes before any worker runs: a job must never see a Redis without its playbooks.
  const guard = new DataLossGuard({
    redis,
    keys,
    log,
    clock,
    ...(opts.dataLossCheckMs ? { checkEveryMs: opts.dataLossCheckMs } : {}),
    reseed: async (reason) => {
      await opts.reseed?.(reason);
      // Every deal is read again on the next sweep (the cursor starts at 0 where there is none): timers, state
      // and task maps are rebuilt from HubSpot, and existing tasks adopted by their markers.
      for (const portalId of await playbooks.portals()) await cursors.advance(portalId, 0);
      if (reason === 'data_loss') {
        // The tracked deal sets went with the data: complete again while the keyspace is small.
        for (const portalId of await playbooks.portals()) await states.ensureTracked(portalId);
        await sweepQueue.start(config.sweepIntervalMs);
        await sweepQueue.runOnce();
      }
    },
  });
  await guard.start();
  // Portals whose tracked deal set is incomplete (states saved by a release before it) get it completed in the
  // background by one SCAN; until then its readers scan as before (state/deal-state-store.ts).
  const tracking = (async () => {
    for (const portalId of await playbooks.portals()) await states.ensureTracked(portalId);
  })().catch((err: unknown) =>
    log.warn({ err: errorSummary(err) }, 'completing the tracked deal sets failed; their readers scan'),
  );

  // What the reconcile and timer workers decide with (decide.ts).
  const dealLock = new DealLock(redis, keys);
  const decideDeps: DecideDeps = {
    gateway,
    engine,
    playbooks,
    states,
    history,
    timers: timerQueue,
    log,
    clock,
    roundRobin,
    redisIntact: () => guard.verify(),
    seededAt: () => guard.currentSeededAt(),
    lock: dealLock,
    pages: paging,
  };

  const workers: Worker[] = [];
  let timerPoller: TimerPoller | undefined;
  let closingWorkers = false;
  if (workerRedis) {
    const w = { connection: workerRedis, prefix: bullPrefix, concurrency: config.workerConcurrency, log };
    timerPoller = new TimerPoller({
      redis: workerRedis,
      keys,
      clock,
      log,
      concurrency: config.workerConcurrency,
      fire: (t) => fireTimer(decideDeps, t.portalId, t.dealId, t.firing),
      ...(opts.timerPollMs ? { pollMs: opts.timerPollMs } : {}),
    }).start();
    // Legacy timer jobs are drained by a BullMQ worker, started only once some are found (at start, or by the
    // once-a-minute look while an older version may still arm them).
    let legacyWorker: Worker | undefined;
    await legacyTimers.start(() => {
      if (legacyWorker || closingWorkers) return;
      legacyWorker = startLegacyTimerWorker(decideDeps, w);
      workers.push(legacyWorker);
    });
    reconcilePoller = new ReconcilePoller({
      redis: workerRedis,
      keys,
      log,
      concurrency: config.workerConcurrency,
      queue: reconcileQueue,
      run: reconcileRunner(decideDeps),
      ...(opts.reconcilePollMs ? { pollMs: opts.reconcilePollMs } : {}),
    }).start();
    // Likewise reconcile jobs left by a version before the due set.
    let legacyReconcileWorker: Worker | undefined;
    await legacyReconcile.start(() => {
      if (legacyReconcileWorker || closingWorkers) return;
      legacyReconcileWorker = startLegacyReconcileWorker(decideDeps, w);
      workers.push(legacyReconcileWorker);
    });
    workers.push(
      startIngestWorker(
        {
          reconcile: reconcileQueue,
          ...(activity ? { activity } : {}),
          reasonEdit: hubspotReasonEdits({
            gateway,
            states,
            playbooks,
            history: new DealHistoryReader(history),
            audit: new RedisReasonAuditLog(redis, config.keyPrefix),
            lock: dealLock,
            log,
            clock,
          }),
        },
        w,
      ),
      startSweepWorker(
        {
          gateway,
          playbooks,
          cursors,
          reconcile: reconcileQueue,
          audit: { states, perSweep: config.sweepAuditDeals },
          log,
          clock,
          ...(activity ? { activity } : {}),
        },
        w,
      ),
    );
    await sweepQueue.start(config.sweepIntervalMs);
    // The service is started once every worker's connections are up: a BullMQ worker closed while its blocking
    // connection still initialises leaves that initialisation's failure as an unhandled rejection (seen when a
    // test, or a SIGTERM right after boot, closes the service at once).
    await Promise.all(workers.map((worker) => worker.waitUntilReady()));
  }

  const readiness = async () => {
    if (!guard.intact) throw new Error('Redis lost its data; re-seeding');
    const pong = await redis.ping();
    if (pong !== 'PONG') throw new Error('unexpected PING reply');
    // The ingest queue is what the webhook endpoint writes to; the reconcile due set what the workers read.
    await Promise.all([ingestQueue.queue.getJobCounts('waiting'), reconcileQueue.counts()]);
  };

  let server: Server | undefined;
  let url = '';
  if (wantHttp) {
    const app = createApp({
      // Unset only for an operations-only app, which mounts no signed route.
      clientSecret: secret ?? '',
      publicUrl: config.publicUrl,
      maxBodyBytes: config.webhookMaxBodyBytes,
      enqueue: async (request, claim) => {
        // Until re-seeded, a 503 makes HubSpot redeliver later rather than us enqueueing into a Redis with no playbooks.
        if (!guard.intact) throw new Error('Redis lost its data; re-seeding');
        return ingestQueue.add({ ...request, receivedAt: clock() }, claim);
      },
      readiness,
      log,
      clock,
      routers: [...(api ? [{ path: api.path, router: api.router }] : []), ...(opts.routers ?? [])],
      replay,
      ...(config.metricsToken ? { metricsToken: config.metricsToken } : {}),
      operationsOnly,
      ...(opts.metrics ? { metrics: opts.metrics } : {}),
    });
    server = await new Promise<Server>((resolve, reject) => {
      const s = app.listen(config.port, opts.host ?? '0.0.0.0', (err?: Error) =>
        err ? reject(err) : resolve(s),
      );
    });
    const addr = server.address() as AddressInfo;
    url = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address === '0.0.0.0' ? '127.0.0.1' : addr.address}:${addr.port}`;
    log.info({ port: addr.port }, 'http listening');
  }

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      log.info('shutting down');
      if (server) {
        const s = server;
        // Stop accepting first; requests already being answered still finish.
        await new Promise<void>((resolve) => {
          s.close(() => resolve());
          s.closeIdleConnections();
        });
      }
      // Worker.close waits for active jobs, so a reconcile in flight still persists its decision; the timer
      // and reconcile pollers likewise let their runs finish and record them.
      closingWorkers = true;
      await Promise.all([...workers.map((w) => w.close()), timerPoller?.close(), reconcilePoller?.close()]);
      await paging.close();
      await guard.stop();
      states.stop();
      await tracking;
      stopObserving.forEach((stop) => stop());
      await Promise.all([
        ingestQueue.close(),
        reconcileQueue.close(),
        legacyReconcile.close(),
        timerQueue.close(),
        sweepQueue.close(),
      ]);
      if (workerRedis) await workerRedis.quit().catch(() => undefined);
      await queueRedis.quit().catch(() => undefined);
      if (apiRedis) await apiRedis.quit().catch(() => undefined);
      if (ownsRedis) await redis.quit().catch(() => undefined);
      log.info('stopped');
    })());

  return {
    url,
    close,
    redis,
    api,
    /** The reconcile and timer workers' jobs, callable directly (tests, operators). */
    reconcileDeals: (portalId: string, dealIds: string[]) => reconcileDeals(decideDeps, portalId, dealIds),
    fireTimer: (portalId: string, dealId: string, timer: TimerFiring) =>
      fireTimer(decideDeps, portalId, dealId, timer),
    ingestQueue,
    reconcileQueue,
    /** Claims and runs due reconcile requests; absent in a web-only process. */
    reconcilePoller,
    timerQueue,
    /** Claims and fires due timers; absent in a web-only process. */
    timerPoller,
    sweepQueue,
    stores: {
      playbooks: playbookStore,
      states,
      history,
      weeks: new HistoryWeeks(redis, keys, history),
      cursors,
    },
    paging,
    dataLoss: guard,
  };
}

/** For main.ts: SIGTERM / SIGINT close the service once (a second signal exits at once). */
export function closeOnSignals(service: { close(): Promise<void> }, log: Logger): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(1);
    stopping = true;
    log.info({ signal }, 'signal received; draining');
    service.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err: errorSummary(err) }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}
