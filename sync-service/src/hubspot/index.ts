import type { Redis } from 'ioredis';
import type { Logger } from '../log';
import { HubSpotCaller, type CallMetrics, type RetryPolicy } from './call';
import { HubSpotClientFactory, type TokenProvider } from './client';
import { HubSpotApiGateway } from './gateway';
import { nextLocalMidnight } from '@stagekeeper/shared';
import { PLANS, RedisRateLimiter, type LimiterPlan } from './limiter';

export {
  HubSpotCaller,
  type PortalCaller,
  type CallOptions,
  type CallMetrics,
  type RetryPolicy,
} from './call';
export {
  HubSpotClientFactory,
  NoTokenError,
  OAuthTokenProvider,
  StaticTokenProvider,
  type OAuthTokens,
  type TokenProvider,
  type TokenStore,
} from './client';
export { HubSpotDailyLimitError, HubSpotRequestError, HubSpotUnavailableError } from './errors';
export { HubSpotApiGateway, parseHubSpotTime } from './gateway';
export {
  burstPlan,
  PLANS,
  RedisRateLimiter,
  type Bucket,
  type Lane,
  type LimiterPlan,
  type RateLimiter,
} from './limiter';
export { asInteractive } from './call';

export type HubSpotAdapterOptions = {
  redis: Redis;
  /** The service's key prefix (config.keyPrefix). */
  prefix: string;
  tokens: TokenProvider;
  /** The sandbox portal's URL, or HubSpot's API host when omitted. */
  basePath?: string;
  /** Burst limits for the portal's plan; Professional/Enterprise private apps by default. */
  plan?: LimiterPlan | ((portalId: string) => LimiterPlan);
  log?: Logger;
  metrics?: CallMetrics;
  retry?: Partial<RetryPolicy>;
  /**
   * The portal's time zone, for HubSpot's daily quota reset (midnight there). Unknown: a spent daily quota is
   * probed hourly.
   */
  portalTimeZone?: (portalId: string) => Promise<string | undefined>;
};

/** Everything the worker needs, wired: gateway for the engine's commands, caller for provisioning and the CLI. */
export function createHubSpotAdapter(opts: HubSpotAdapterOptions) {
  const clients = new HubSpotClientFactory({
    tokens: opts.tokens,
    ...(opts.basePath ? { basePath: opts.basePath } : {}),
  });
  const zoneOf = opts.portalTimeZone;
  const limiter = new RedisRateLimiter({
    redis: opts.redis,
    prefix: opts.prefix,
    plan: opts.plan ?? PLANS.privateAppProfessional,
    ...(zoneOf
      ? {
          dailyResetAt: async (portalId: string) => {
            const zone = await zoneOf(portalId);
            return zone ? nextLocalMidnight(zone, Date.now()) : Date.now() + 3_600_000;
          },
        }
      : {}),
  });
  const caller = new HubSpotCaller({
    clients,
    limiter,
    ...(opts.log ? { logger: opts.log } : {}),
    ...(opts.metrics ? { metrics: opts.metrics } : {}),
    ...(opts.retry ? { retry: opts.retry } : {}),
  });
  const gateway = new HubSpotApiGateway({
    caller,
    redis: opts.redis,
    prefix: opts.prefix,
    ...(opts.log ? { logger: opts.log } : {}),
  });
  return { gateway, caller, limiter, clients };
}
