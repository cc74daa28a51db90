import type { Redis } from 'ioredis';
import type { InstallRegistry, ProvisioningState } from '../install/registry';
import { assertKeyPart } from '../state/keys';

/** GET /api/settings/status (§4.6). */
export type InstallStatusBody = {
  portalId: number;
  installed: boolean;
  installedAt: string | null;
  missingScopes: string[];
  provisioning: {
    state: ProvisioningState;
    propertiesExpected: number;
    propertiesPresent: number;
    lastRunAt: string | null;
    error: string | null;
  };
  lastWebhookAt: string | null;
  lastSweepAt: string | null;
};

/** What the settings page's status block reads; answered from stored facts, so it works while HubSpot is down. */
export interface InstallStatusStore {
  status(portalId: string): Promise<InstallStatusBody>;
}

/**
 * When the portal last sent a webhook and was last swept. The install registry holds install and provisioning;
 * these two change on every delivery, so they live in their own hash instead of rewriting the registry's JSON.
 * The webhook intake and the sweep call the record methods.
 */
export class PortalActivityStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(portalId: string): string {
    return `${this.prefix}:${assertKeyPart('portalId', portalId)}:api:activity`;
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

const isoOrNull = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** §4.6 from the install registry (install, scopes, provisioning) plus the activity store. */
export function registryInstallStatus(
  registry: Pick<InstallRegistry, 'get'>,
  activity: PortalActivityStore,
): InstallStatusStore {
  return {
    async status(portalId) {
      const [s, seen] = await Promise.all([registry.get(portalId), activity.get(portalId)]);
      const p = s.provisioning;
      return {
        portalId: Number(portalId),
        installed: s.installed,
        installedAt: s.installed ? s.installedAt : null,
        missingScopes: s.installed ? s.missingScopes : [],
        provisioning: {
          state: p.state,
          propertiesExpected: p.propertiesExpected,
          propertiesPresent: p.propertiesPresent,
          lastRunAt: p.lastRunAt,
          error: p.error,
        },
        lastWebhookAt: isoOrNull(seen.lastWebhookAt),
        lastSweepAt: isoOrNull(seen.lastSweepAt),
      };
    },
  };
}
