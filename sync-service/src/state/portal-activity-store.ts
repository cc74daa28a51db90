import type { Redis } from 'ioredis';
import { redisKeys, type Keys } from './keys';
import { luaScript } from './lua';

/** The field a delivery moves forward (the webhook intake writes it inside its own script too: queue/reconcile.ts). */
export const LAST_WEBHOOK_FIELD = 'lastWebhookAt';

/**
 * Lua: `forward(key, field, at)` sets the hash field to `at` unless it already holds a later time. Webhook
 * batches are handled concurrently and may finish out of order, so the times only move forward.
 */
export const FORWARD_LUA = `local function forward(key, field, at)
  local cur = tonumber(redis.call('HGET', key, field) or '0') or 0
  if tonumber(at) > cur then redis.call('HSET', key, field, at) end
end
`;

const forwardScript = luaScript(`${FORWARD_LUA}forward(KEYS[1], ARGV[1], ARGV[2])
return 1`);

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
    const [webhook, sweep] = await this.redis.hmget(this.key(portalId), LAST_WEBHOOK_FIELD, 'lastSweepAt');
    const num = (v: string | null | undefined) =>
      typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : null;
    return { lastWebhookAt: num(webhook), lastSweepAt: num(sweep) };
  }

  recordWebhook(portalId: string, at: number): Promise<void> {
    return this.forward(portalId, LAST_WEBHOOK_FIELD, at);
  }

  recordSweep(portalId: string, at: number): Promise<void> {
    return this.forward(portalId, 'lastSweepAt', at);
  }

  private async forward(portalId: string, field: string, at: number): Promise<void> {
    await forwardScript(this.redis, [this.key(portalId)], [field, String(Math.floor(at))]);
  }
}
