import type { Router } from 'express';
import type { Redis } from 'ioredis';
import { ConfigError, type Config } from '../config';
import { burstPlan, createHubSpotAdapter } from '../hubspot';
import { AccountTimeZones } from '../hubspot/account-zone';
import { ReplayStore } from '../http/replay-store';
import type { Logger } from '../log';
import { redisKeys } from '../state/keys';
import { PlaybookStore } from '../state/playbook-store';
import type { TokenMode } from './mode';
import { createOAuthRouter } from './oauth';
import { provisionerFor } from './provisioning';

export type InstallRoutesDeps = {
  config: Config;
  redis: Redis;
  log: Logger;
  /** The sandbox portal's URL; HubSpot otherwise. */
  basePath?: string;
  clock?: () => number;
};

/**
 * The `/oauth` router for `startService({ routers })`, wired from an OAuth TokenMode. It provisions through its
 * own caller over the same token provider and the same Redis rate limiter as the workers, so the router can be
 * built before the rest of the stack exists.
 */
export function installRoutes(
  mode: Extract<TokenMode, { kind: 'oauth' }>,
  deps: InstallRoutesDeps,
): { path: string; router: Router } {
  const { config, redis, log } = deps;
  if (!mode.redirectUri)
    throw new ConfigError([
      'PUBLIC_URL: required for OAuth installs (HubSpot redirects to PUBLIC_URL/oauth/callback)',
    ]);
  const adapter = createHubSpotAdapter({
    redis,
    prefix: config.keyPrefix,
    tokens: mode.tokens,
    ...(deps.basePath ? { basePath: deps.basePath } : {}),
    plan: burstPlan(config.hubspot.rateLimitPer10s),
    log,
  });
  const router = createOAuthRouter({
    clientId: mode.clientId,
    clientSecret: mode.clientSecret,
    redirectUri: mode.redirectUri,
    tokens: mode.store,
    registry: mode.registry,
    provisionPortal: provisionerFor({
      caller: adapter.caller,
      playbooks: new PlaybookStore(redis, redisKeys(config.keyPrefix), log),
      zones: new AccountTimeZones(redis, redisKeys(config.keyPrefix)),
    }),
    tokenCache: mode.tokens,
    replay: new ReplayStore(redis, redisKeys(config.keyPrefix)),
    log,
    ...(deps.basePath ? { basePath: deps.basePath } : {}),
    ...(config.publicUrl ? { publicUrl: config.publicUrl } : {}),
    ...(deps.clock ? { clock: deps.clock } : {}),
  });
  return { path: '/oauth', router };
}
