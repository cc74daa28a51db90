import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { assertKeyPart } from '../state/keys';

/**
 * HubSpot's burst limits are per app per account, and every worker process shares them, so the window lives in
 * Redis: a sliding-window log (one sorted-set member per call) updated by one Lua script, keyed per portal. Search
 * has its own bucket in HubSpot and here.
 */

export type Bucket = 'default' | 'search';

export type Window = { max: number; windowMs: number };
export type LimiterPlan = Record<Bucket, Window>;

const SEARCH: Window = { max: 5, windowMs: 1_000 };

/** Burst limits per HubSpot plan (hubspot-api-facts §1). The search bucket is 5/s for every plan. */
export const PLANS = {
  privateAppStarter: { default: { max: 100, windowMs: 10_000 }, search: SEARCH },
  privateAppProfessional: { default: { max: 190, windowMs: 10_000 }, search: SEARCH },
  privateAppEnterprise: { default: { max: 190, windowMs: 10_000 }, search: SEARCH },
  apiLimitIncrease: { default: { max: 250, windowMs: 10_000 }, search: SEARCH },
  publicApp: { default: { max: 110, windowMs: 10_000 }, search: SEARCH },
} as const satisfies Record<string, LimiterPlan>;

export interface RateLimiter {
  /** Resolves when a call may be made now; waits (never fails) while the window is full. */
  acquire(portalId: string, bucket: Bucket): Promise<void>;
  /** HubSpot said we are over its limit: stop every process for this portal and bucket for `ms`. */
  backOff(portalId: string, bucket: Bucket, ms: number): Promise<void>;
  window(portalId: string, bucket: Bucket): Window;
}

// Redis' own clock, so workers on hosts with skewed clocks agree on the window.
const ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local blocked = redis.call('PTTL', KEYS[2])
if blocked > 0 then return blocked end
local max = tonumber(ARGV[1])
local windowMs = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - windowMs)
if redis.call('ZCARD', KEYS[1]) < max then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], windowMs)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local wait = tonumber(oldest[2]) + windowMs - now
if wait < 1 then wait = 1 end
return wait
`;

// Only ever lengthens a block: a short secondly back-off must not cut a ten-second one short.
const BACK_OFF = `
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return 0
`;

export type RedisRateLimiterOptions = {
  redis: Redis;
  /** Key prefix, as for the rest of the service's keys; keys are `${prefix}:${portalId}:rl:${bucket}`. */
  prefix: string;
  /** One plan for all portals, or a lookup per portal (portals differ in plan). */
  plan: LimiterPlan | ((portalId: string) => LimiterPlan);
  /** Injected for tests. */
  sleep?: (ms: number) => Promise<void>;
};

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class RedisRateLimiter implements RateLimiter {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly plan: (portalId: string) => LimiterPlan;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(opts: RedisRateLimiterOptions) {
    this.redis = opts.redis;
    this.prefix = opts.prefix;
    const plan = opts.plan;
    this.plan = typeof plan === 'function' ? plan : () => plan;
    this.sleep = opts.sleep ?? defaultSleep;
  }

  key(portalId: string, bucket: Bucket): string {
    return `${this.prefix}:${assertKeyPart('portalId', portalId)}:rl:${bucket}`;
  }

  window(portalId: string, bucket: Bucket): Window {
    return this.plan(portalId)[bucket];
  }

  /** One attempt: 0 when a slot was taken, else how long to wait before the next attempt. */
  async tryAcquire(portalId: string, bucket: Bucket): Promise<number> {
    const { max, windowMs } = this.window(portalId, bucket);
    const key = this.key(portalId, bucket);
    const wait = (await this.redis.eval(ACQUIRE, 2, key, `${key}:block`, max, windowMs, randomUUID())) as number;
    return Number(wait);
  }

  async acquire(portalId: string, bucket: Bucket): Promise<void> {
    for (;;) {
      const wait = await this.tryAcquire(portalId, bucket);
      if (wait <= 0) return;
      // A little jitter so waiting workers do not all hit Redis in the same millisecond.
      await this.sleep(wait + Math.floor(Math.random() * Math.min(50, wait / 4 + 1)));
    }
  }

  async backOff(portalId: string, bucket: Bucket, ms: number): Promise<void> {
    await this.redis.eval(BACK_OFF, 1, `${this.key(portalId, bucket)}:block`, Math.max(1, Math.ceil(ms)));
  }
}
