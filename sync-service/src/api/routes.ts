import { Router } from 'express';
import type { Redis } from 'ioredis';
import type { Logger } from '../log';
import type { HubSpotGateway } from '../ports';
import { DealStateStore } from '../state/deal-state-store';
import { HistoryStore } from '../state/history-store';
import { redisKeys } from '../state/keys';
import { PlaybookStore } from '../state/playbook-store';
import { RedisReasonAuditLog } from '../state/reason-audit-store';
import { DealHistoryReader } from './breach-history';
import { cardRoutes } from './card-routes';
import { channelRoutes } from './channel-routes';
import { ChannelStore } from '../notify/channel-store';
import { PageTrail } from '../notify/page-trail';
import type { ApiDeps } from './deps';
import { apiErrorHandler } from './errors';
import { HistoryWeeks } from './history-weeks';
import { InstallRegistry } from '../install/registry';
import { ReplayStore } from '../http/replay-store';
import { registryInstallStatus } from './install-status';
import { PortalActivityStore } from '../state/portal-activity-store';
import { PlaybookMetaStore } from '../state/playbook-meta-store';
import { recomputeOpenVisits } from './recompute';
import { scorecardRoutes } from './scorecard-routes';
import { settingsRoutes } from './settings-routes';
import { readWhatIfData } from './whatif-data';
import { whatIfRoutes } from './whatif-routes';

export type { ApiDeps } from './deps';

/** Where the router expects to be mounted: the paths of docs/hubspot-app.md §4 start with it. */
export const API_MOUNT_PATH = '/api';

/**
 * The card, settings and scorecard endpoints (docs/hubspot-app.md §4). Every route verifies HubSpot's signature
 * and scopes all reads and writes to the signed portalId; errors keep the §4.1 shape.
 */
export function createApiRouter(deps: ApiDeps): Router {
  const router = Router();
  router.use(whatIfRoutes(deps));
  router.use(cardRoutes(deps), settingsRoutes(deps), scorecardRoutes(deps));
  if (deps.channels) router.use(channelRoutes({ ...deps, channels: deps.channels }));
  router.use(apiErrorHandler(deps.log));
  return router;
}

export type ApiWiring = {
  redis: Redis;
  /** config.keyPrefix */
  prefix: string;
  gateway: HubSpotGateway;
  clientSecret: string;
  publicUrl: string | undefined;
  log: Logger;
  clock?: () => number;
  /** The reconcile queue's enqueue (e.g. `(p, ids) => reconcileQueue.enqueue(p, ids, 'manual')`). */
  enqueueReconcile?: (portalId: string, dealIds: string[]) => Promise<unknown>;
  /** TOKEN_ENCRYPTION_KEY: paging channel secrets are sealed with it (without it the page says so). */
  encryptionKey?: string;
  /** Local fakes in tests listen on http://127.0.0.1. */
  allowHttpLoopbackChannels?: boolean;
  /** The install flow's registry, when the caller already has one; otherwise one over the same Redis keys. */
  installRegistry?: Pick<InstallRegistry, 'get' | 'isAdmin'>;
  /** The service's stores, when the caller already built them (service.ts); otherwise built here. */
  stores?: {
    playbooks: PlaybookStore;
    states: DealStateStore;
    history: HistoryStore;
    replay: ReplayStore;
  };
};

/** The router over the service's Redis stores; startService mounts it (its `api` option). */
export function createApiRoutes(w: ApiWiring): {
  path: string;
  router: Router;
  activity: PortalActivityStore;
  whatIfData: NonNullable<ApiDeps['whatIfData']>;
} {
  const keys = redisKeys(w.prefix);
  const states = w.stores?.states ?? new DealStateStore(w.redis, keys, w.log);
  const activity = new PortalActivityStore(w.redis, w.prefix);
  const registry = w.installRegistry ?? new InstallRegistry(w.redis, w.prefix);
  const install = registryInstallStatus(registry, activity);
  const historyStore = w.stores?.history ?? new HistoryStore(w.redis, keys, w.log);
  const whatIfData: NonNullable<ApiDeps['whatIfData']> = (portalId, now, weeks) =>
    readWhatIfData({ redis: w.redis, keys, log: w.log, states, portalId, now, weeks });
  const router = createApiRouter({
    clientSecret: w.clientSecret,
    publicUrl: w.publicUrl,
    log: w.log,
    ...(w.clock ? { clock: w.clock } : {}),
    playbooks: w.stores?.playbooks ?? new PlaybookStore(w.redis, keys, w.log),
    meta: new PlaybookMetaStore(w.redis, w.prefix),
    states,
    whatIfData,
    history: new DealHistoryReader(historyStore),
    weeks: new HistoryWeeks(w.redis, keys, historyStore),
    gateway: w.gateway,
    install,
    admins: registry,
    replay: w.stores?.replay ?? new ReplayStore(w.redis, keys),
    audit: new RedisReasonAuditLog(w.redis, w.prefix),
    channels: new ChannelStore({
      redis: w.redis,
      prefix: w.prefix,
      keys: w.encryptionKey,
      log: w.log,
      ...(w.clock ? { clock: w.clock } : {}),
      ...(w.allowHttpLoopbackChannels ? { allowHttpLoopback: true } : {}),
    }),
    pageTrail: new PageTrail(w.redis, w.prefix),
    ...(w.enqueueReconcile
      ? {
          recompute: recomputeOpenVisits({
            states,
            enqueue: w.enqueueReconcile,
          }),
        }
      : {}),
  });
  // whatIfData too: the sandbox's local ops page previews drafts through the same reader as the settings page.
  return { path: API_MOUNT_PATH, router, activity, whatIfData };
}
