/**
 * Test-only: the sandbox HubSpot portal served over loopback HTTP, and the real client stack (@hubspot/api-client
 * through HubSpotClientFactory, HubSpotCaller, a Redis rate limiter) pointed at it. For the integration tests
 * that talk HTTP to a fake HubSpot; nothing here is imported by production code.
 */
import type { Redis } from 'ioredis';
import {
  SandboxPortal,
  startSandboxServer,
  type OwnerSeed,
  type PipelineSeed,
  type SandboxOptions,
  type SandboxServer,
} from '../../../test/sandbox';
import { HubSpotCaller, type RetryPolicy } from '../hubspot/call';
import { HubSpotClientFactory, StaticTokenProvider, type TokenProvider } from '../hubspot/client';
import { RedisRateLimiter, type LimiterPlan } from '../hubspot/limiter';

/** The pipeline hubspot/test-playbook.ts describes. */
export const CARE_PIPELINE: PipelineSeed = {
  id: 'sk_care',
  label: 'Care journey',
  stages: [
    { id: 'sk_referral', label: 'Referral' },
    { id: 'sk_intake', label: 'Intake Completed' },
    { id: 'sk_scheduled', label: 'Scheduled' },
    { id: 'sk_done', label: 'Done', isClosed: true },
  ],
};

export type SandboxPortalOptions = SandboxOptions & {
  /** Seed CARE_PIPELINE (default true). */
  carePipeline?: boolean;
  owners?: OwnerSeed[];
};

export type Sandbox = { portal: SandboxPortal; server: SandboxServer };

/** A fresh portal, seeded, then served; close it with `server.close()`. */
export async function startSandboxPortal(opts: SandboxPortalOptions = {}): Promise<Sandbox> {
  const { carePipeline = true, owners = [], ...portalOptions } = opts;
  const portal = new SandboxPortal(portalOptions);
  if (carePipeline) portal.seedPipeline(CARE_PIPELINE);
  for (const owner of owners) portal.seedOwner(owner);
  const server = await startSandboxServer({ portal });
  return { portal, server };
}

/** Roomy for ordinary calls; HubSpot's own 5/s for search. */
export const SANDBOX_LIMITER_PLAN: LimiterPlan = {
  default: { max: 500, windowMs: 10_000 },
  search: { max: 5, windowMs: 1_000 },
};

export type SandboxCallerOptions = {
  redis: Redis;
  /** Key prefix of the rate limiter. */
  prefix: string;
  plan?: LimiterPlan;
  /** Defaults to the portal's private-app token. */
  tokens?: TokenProvider;
  retry?: Partial<RetryPolicy>;
};

/** The real HubSpotCaller against the sandbox, metrics discarded. */
export function sandboxCaller({ portal, server }: Sandbox, opts: SandboxCallerOptions): HubSpotCaller {
  return new HubSpotCaller({
    clients: new HubSpotClientFactory({
      tokens: opts.tokens ?? new StaticTokenProvider(portal.privateAppToken),
      basePath: server.url,
    }),
    limiter: new RedisRateLimiter({
      redis: opts.redis,
      prefix: opts.prefix,
      plan: opts.plan ?? SANDBOX_LIMITER_PLAN,
    }),
    metrics: { inc: () => {} },
    ...(opts.retry ? { retry: opts.retry } : {}),
  });
}
