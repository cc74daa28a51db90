import type { Redis } from 'ioredis';
import { redisKeys, type Keys } from './keys';

/**
 * When the portal last sent a webhook and was last swept. The install registry holds install and provisioning;
 * these two change on every delivery, so they live in their own hash instead of rewriting the registry's JSON.
 * The webhook intake and the sweep call the record methods.
 */
export class PortalActivityStore {
  private readonly keys: Keys;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.keys = redisKeys(prefix);
  }

  private key(portalId: string): string {
    return this.keys.portalActivity(portalId);
  }

  async get(portalId: string): Promise<{ lastWebhookAt: number | null; lastSweepAt: number | null }> {
    const [webhook, sweep] = await this.redis.hmget(this.key(portalId), 'lastWebhookAt', 'lastSweepAt');
    const num = (v: string | null | undefined) =>
      typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : null;
    return { lastWebhookAt: num(webhook), lastSweepAt: num(sweep) };
  }

  recordWebhook(portalId: string, at: number): Promise<void> {
    return this.forward(portalId, 'lastWebhookAt', at);
  }

  recordSweep(portalId: string, at: number): Promise<void> {
    return this.forward(portalId, 'lastSweepAt', at);
  }

  /** Only moves forward: webhook batches are handled concurrently and may finish out of order. */
  private async forward(portalId: string, field: string, at: number): Promise<void> {
    await this.redis.eval(
      `local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0') or 0
       if tonumber(ARGV[2]) > cur then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
       return 1`,
      1,
      this.key(portalId),
      field,
      String(Math.floor(at)),
    );
  }
}
