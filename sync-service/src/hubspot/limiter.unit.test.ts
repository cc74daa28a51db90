import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisRateLimiter, type LimiterPlan } from './limiter';

// Real Redis: the point of this limiter is that separate processes (here: separate connections) share a window.
const prefix = `sktest-limiter-${process.pid}-${Date.now()}`;
const plan: LimiterPlan = { default: { max: 5, windowMs: 400 }, search: { max: 2, windowMs: 300 } };
let a: Redis;
let b: Redis;

async function cleanup(r: Redis) {
  let cursor = '0';
  do {
    const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 200);
    if (keys.length) await r.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

beforeAll(() => {
  a = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 3 });
  b = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 3 });
});
afterAll(async () => {
  await cleanup(a);
  a.disconnect();
  b.disconnect();
});

describe('RedisRateLimiter', () => {
  it('two limiters share one sliding window per portal', async () => {
    const one = new RedisRateLimiter({ redis: a, prefix, plan });
    const two = new RedisRateLimiter({ redis: b, prefix, plan });
    const start = Date.now();
    const times: number[] = [];
    await Promise.all(
      Array.from({ length: 12 }, (_, i) => (i % 2 ? one : two).acquire('101', 'default').then(() => times.push(Date.now() - start))),
    );
    times.sort((x, y) => x - y);
    // 5 at once, then 5 more a window later, then the last 2 a window after that.
    expect(times.slice(0, 5).every((t) => t < 200)).toBe(true);
    expect(times[5]!).toBeGreaterThanOrEqual(plan.default.windowMs - 20);
    expect(times[10]!).toBeGreaterThanOrEqual(2 * plan.default.windowMs - 20);
    // No window of 400 ms ever saw more than 5 calls.
    for (let i = 0; i + 5 < times.length; i++) expect(times[i + 5]! - times[i]!).toBeGreaterThanOrEqual(plan.default.windowMs - 20);
  });

  it('portals and buckets are independent', async () => {
    const l = new RedisRateLimiter({ redis: a, prefix, plan });
    expect(await l.tryAcquire('202', 'search')).toBe(0);
    expect(await l.tryAcquire('202', 'search')).toBe(0);
    const wait = await l.tryAcquire('202', 'search');
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(plan.search.windowMs);
    // The full search bucket does not hold back ordinary calls, nor another portal's search.
    expect(await l.tryAcquire('202', 'default')).toBe(0);
    expect(await l.tryAcquire('303', 'search')).toBe(0);
  });

  it('a back-off after a HubSpot 429 stops every instance, and never shortens an existing one', async () => {
    const one = new RedisRateLimiter({ redis: a, prefix, plan });
    const two = new RedisRateLimiter({ redis: b, prefix, plan });
    await one.backOff('404', 'default', 300);
    await one.backOff('404', 'default', 50);
    const wait = await two.tryAcquire('404', 'default');
    expect(wait).toBeGreaterThan(200);
    const t0 = Date.now();
    await two.acquire('404', 'default');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(200);
  });

  it('refuses ids that could alias other keys', () => {
    const l = new RedisRateLimiter({ redis: a, prefix, plan });
    expect(() => l.key('1:*', 'default')).toThrow();
  });
});
