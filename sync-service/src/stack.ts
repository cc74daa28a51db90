import { Redis } from 'ioredis';
import type { Playbook } from '@stagekeeper/shared';
import { InstallRegistry } from './install/registry';
import type { Config } from './config';
import { burstPlan, createHubSpotAdapter, StaticTokenProvider, type TokenProvider } from './hubspot';
import { AccountTimeZones } from './hubspot/account-zone';
import { createLogger, type Logger } from './log';
import { formatProvisionReport, provision } from './provision';
import { createCriteriaProperties, type Sandbox } from './sandbox-mode';
import { LIFECYCLE_EVENTS, watchedProperties } from './webhooks/subscriptions';
import { startService, type StartOptions } from './service';
import { APP_REDIS_OPTIONS } from './redis-bootstrap';
import { redisKeys } from './state/keys';
import { checkRedisDurability } from './state/data-loss';
import { PlaybookStore } from './state/playbook-store';
import {
  processMetrics,
  processMetricsJson,
  startWorkerThread,
  type WorkerThread,
  type WorkerThreadData,
} from './worker-thread';

export type StackOptions = {
  config: Config;
  /** The playbook to put in force for the portal at start (saved as a new version only when it changed). */
  playbook: Playbook;
  /** Sandbox mode: the embedded portal to talk to instead of HubSpot. */
  sandbox?: Sandbox;
  /**
   * A sandbox portal living in another process (chaos runs: worker processes reach the test's portal over HTTP).
   * Used like `sandbox`, except that pointing the portal's webhooks at this service is left to its owner.
   */
  remoteSandbox?: RemoteSandbox;
  /** Token provider for real portals (static token or OAuth); defaults to the static token from config. */
  tokens?: TokenProvider;
  redis?: Redis;
  clock?: () => number;
  log?: Logger;
  routers?: StartOptions['routers'];
  http?: boolean | 'operations';
  /**
   * Run the workers here (true), not at all (false), or in a worker thread of this process (worker-thread.ts;
   * SERVICE_ROLE=all by default), started from `env` (what config.ts read) as a worker-role process would be.
   * `clock`: the demo's scaled clock, where it started and its speed. `onCrash`: the thread ended on its own;
   * by default the process exits 1, to be restarted whole.
   */
  workers?: boolean | WorkerThreadOptions;
  host?: string;
  /** How long start-up waits for Redis (restarting, or not up yet) before giving up. */
  redisWaitMs?: number;
  /** The decision engine (tests inject faults into it); the real one by default. */
  engine?: StartOptions['engine'];
  /**
   * Provisioning (the install record, HubSpot properties, the playbook in force) is another thread's: this one
   * (a worker thread, worker-thread-entry.ts) skips it, and after a Redis data loss asks that thread to re-seed.
   */
  seededBy?: () => Promise<void>;
  /** The reconcile poller's interval when nothing wakes it (StartOptions.reconcilePollMs). */
  reconcilePollMs?: number;
  /** Retry policy of the HubSpot caller (tests shorten it). */
  retry?: Parameters<typeof createHubSpotAdapter>[0]['retry'];
};

export type RemoteSandbox = { url: string; portalId: string; token: string; secret: string };

export type WorkerThreadOptions = {
  thread: Pick<WorkerThreadData, 'env' | 'clock' | 'reconcilePollMs'> & { onCrash?: (err: Error) => void };
};

export type Stack = Awaited<ReturnType<typeof startStack>>;

/** Deal events the engine needs: lifecycle and every property the playbook reads (webhooks/subscriptions.ts). */
export function dealSubscriptions(playbook: Playbook) {
  return [
    ...LIFECYCLE_EVENTS.map((e) => ({ eventType: `deal.${e}` as const })),
    ...watchedProperties(playbook).map(({ property }) => ({
      eventType: 'deal.propertyChange' as const,
      propertyName: property,
    })),
  ];
}

/**
 * One process of Stagekeeper, wired: HubSpot adapter (real portal or sandbox), provisioning, the portal's
 * playbook, HTTP and workers. main.ts, the demo and the end-to-end suites all start it this way.
 */
export async function startStack(opts: StackOptions) {
  const { config, playbook, sandbox } = opts;
  const log = opts.log ?? createLogger(config.logLevel);
  const ownsRedis = !opts.redis;
  const redis = opts.redis ?? new Redis(config.redisUrl, APP_REDIS_OPTIONS);
  if (ownsRedis)
    redis.on('error', (err: Error) =>
      log.warn({ err: err.message }, 'redis connection error (reconnecting)'),
    );
  await waitForRedis(redis, log, opts.redisWaitMs ?? 60_000);
  await checkRedisDurability(redis, log, { production: config.production });
  const remote: RemoteSandbox | undefined = sandbox
    ? { url: sandbox.server.url, portalId: sandbox.portalId, token: sandbox.token, secret: sandbox.secret }
    : opts.remoteSandbox;
  const portalId = remote?.portalId ?? config.hubspot.portalId;

  const tokens =
    opts.tokens ??
    (remote
      ? new StaticTokenProvider(remote.token)
      : config.hubspot.accessToken && portalId
        ? new StaticTokenProvider({ [portalId]: config.hubspot.accessToken })
        : undefined);
  if (!tokens)
    throw new Error(
      'no HubSpot credentials: set HUBSPOT_ACCESS_TOKEN and HUBSPOT_PORTAL_ID, or run the sandbox',
    );

  // The one playbook store of the process: provisioning seeds it, the service's workers and API read it.
  const playbooks = new PlaybookStore(redis, redisKeys(config.keyPrefix), log);
  const zones = new AccountTimeZones(redis, redisKeys(config.keyPrefix));
  const adapter = createHubSpotAdapter({
    redis,
    prefix: config.keyPrefix,
    tokens,
    ...(remote ? { basePath: remote.url } : {}),
    plan: burstPlan(config.hubspot.rateLimitPer10s),
    // HubSpot resets the daily quota at midnight in the account's zone, learned at provisioning; until then the
    // playbook's first calendar stands in.
    portalTimeZone: async (p) =>
      (await zones.get(p)) ?? (await playbooks.current(p))?.playbook.calendars[0]?.timeZone,
    log,
    ...(opts.retry ? { retry: opts.retry } : {}),
  });

  let reseedPortal: (() => Promise<void>) | undefined = opts.seededBy;
  if (portalId && !opts.seededBy) {
    const caller = adapter.caller.forPortal(portalId);
    if (remote) {
      // In a real portal an admin creates these fields; the sandbox starts empty.
      const created = await caller.call('properties.create', (c) => createCriteriaProperties(c, playbook));
      if (created.length)
        log.info(
          { portalId, count: created.length },
          'sandbox: created the deal properties the playbook reads',
        );
    }
    const registry = new InstallRegistry(redis, config.keyPrefix, opts.clock);
    // A static token (or the sandbox's) is an install of one portal; OAuth portals are registered by /oauth.
    // Their admins (who may change the playbook or uninstall) come from ADMIN_USER_IDS; the embedded sandbox's
    // user is its first owner, as its token info says.
    const sandboxUser = sandbox?.portal.owners.first()?.userId;
    const admins = [...config.adminUserIds, ...(sandboxUser !== undefined ? [String(sandboxUser)] : [])];
    const staticInstall = !opts.tokens || !!remote;
    if (staticInstall) await registry.markInstalled(portalId, { mode: 'static', scopes: null, admins });
    await registry.markProvisioning(portalId);
    await zones.learn(caller);
    const report = await provision({ client: caller, playbook }).catch(async (err: unknown) => {
      await registry.markProvisionFailed(portalId, err instanceof Error ? err.message : String(err));
      throw err;
    });
    await registry.markProvisioned(portalId, report, { checkedPlaybook: true });
    log[report.ok ? 'info' : 'warn'](
      {
        portalId,
        created: report.created.length,
        mismatches: report.mismatches.length,
        missing: report.missingProperties.length,
      },
      report.ok ? 'provisioned' : `provisioning found problems:\n${formatProvisionReport(report)}`,
    );
    const stored = await playbooks.saveIfChanged(portalId, playbook);
    log.info({ portalId, version: stored.version, changed: stored.changed }, 'playbook in force');
    // After a Redis data loss: the install record and the playbook from their source (the file or the static
    // playbook this process was started with), as at start. Provisioning in HubSpot itself was not lost.
    reseedPortal = async () => {
      if (staticInstall) await registry.markInstalled(portalId, { mode: 'static', scopes: null, admins });
      await registry.markProvisioned(portalId, report, { checkedPlaybook: true });
      const again = await playbooks.saveIfChanged(portalId, playbook);
      log.warn({ portalId, version: again.version }, "re-seeded the portal's install record and playbook");
    };
  }

  const inThread = typeof opts.workers === 'object' ? opts.workers.thread : undefined;
  let thread: WorkerThread | undefined;
  const service = await startService({
    config,
    gateway: adapter.gateway,
    redis,
    log,
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...(remote ? { webhookSecret: remote.secret } : {}),
    // The card, settings and scorecard API, signed with the same secret as webhooks.
    api: true,
    playbookStore: playbooks,
    ...(opts.routers ? { routers: opts.routers } : {}),
    ...(reseedPortal ? { reseed: reseedPortal } : {}),
    ...(opts.engine ? { engine: opts.engine } : {}),
    ...(opts.http !== undefined ? { http: opts.http } : {}),
    ...(opts.workers !== undefined ? { workers: opts.workers === true } : {}),
    ...(opts.host ? { host: opts.host } : {}),
    ...(opts.reconcilePollMs ? { reconcilePollMs: opts.reconcilePollMs } : {}),
    // With the workers in a thread, their counters (SLA firings, HubSpot calls, jobs) are in its registry, and the
    // reconcile requests this thread adds from webhooks wake its poller when due, as they would in one thread.
    ...(inThread
      ? { metrics: () => processMetrics(thread), reconcileDueAt: (at: number) => thread?.reconcileDue(at) }
      : {}),
  });

  if (sandbox && service.url) {
    sandbox.portal.webhooks.configure({
      targetUrl: `${service.url}/webhooks/hubspot`,
      subscriptions: dealSubscriptions(playbook),
    });
  }

  if (inThread) {
    const onCrash =
      inThread.onCrash ??
      ((err: Error) => {
        log.fatal(
          { err: err.message },
          'the worker thread stopped; exiting so the process is restarted whole',
        );
        process.exit(1);
      });
    thread = await startWorkerThread(
      {
        env: inThread.env,
        playbook,
        ...(remote ? { remoteSandbox: remote } : {}),
        ...(inThread.clock ? { clock: inThread.clock } : {}),
        ...(inThread.reconcilePollMs ? { reconcilePollMs: inThread.reconcilePollMs } : {}),
      },
      { log, onCrash, reseed: async () => reseedPortal?.() },
    ).catch(async (err: unknown) => {
      await service.close();
      if (ownsRedis) await redis.quit().catch(() => undefined);
      throw err;
    });
  }

  let closing: Promise<void> | undefined;
  return {
    service,
    /** The worker thread, when the workers run in one. */
    thread,
    /** What /metrics serves, as JSON: this thread's series and the worker thread's. */
    metricsJson: () => processMetricsJson(thread),
    adapter,
    api: service.api,
    portalId,
    redis,
    log,
    close: () =>
      (closing ??= (async () => {
        // HTTP stops taking webhooks first; the thread's workers then finish what is in flight.
        await service.close();
        await thread?.close();
        if (ownsRedis) await redis.quit().catch(() => undefined);
      })()),
  };
}

/**
 * A process started while Redis restarts must wait for it, not crash: every command before "ready" would fail
 * after maxRetriesPerRequest. Pings until one answers or the wait is over.
 */
export async function waitForRedis(redis: Redis, log: Logger, maxWaitMs: number): Promise<void> {
  const deadline = Date.now() + maxWaitMs;
  for (let attempt = 1; ; attempt++) {
    try {
      if ((await redis.ping()) === 'PONG') return;
    } catch (err) {
      if (Date.now() >= deadline)
        throw new Error(
          `Redis did not answer within ${Math.round(maxWaitMs / 1000)} s: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      if (attempt === 1) log.warn({ err: (err as Error).message }, 'waiting for Redis');
    }
    await new Promise((r) => setTimeout(r, Math.min(2_000, 100 * attempt)));
  }
}
