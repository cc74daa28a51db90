import { WRITTEN_BACK_PROPERTIES } from '@stagekeeper/shared';
import type { Redis } from 'ioredis';
import { assertKeyPart } from '../state/keys';

export type ProvisioningState = 'not_started' | 'in_progress' | 'complete' | 'failed';

/** GET /api/settings/status (§4.6). */
export type InstallStatus = {
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

/** Scopes the app asks for at install (docs/hubspot-app.md §6.4); a token missing one cannot do its job. */
export const REQUIRED_SCOPES = [
  'oauth',
  'crm.objects.deals.read',
  'crm.objects.deals.write',
  'crm.objects.contacts.read',
  'crm.objects.contacts.write',
  'crm.objects.owners.read',
  'crm.schemas.deals.write',
] as const;

/**
 * Facts about a portal's installation that the OAuth callback, provisioning, webhook intake and sweep record as
 * they happen; the settings page reads them back. Nothing here is derived from HubSpot at request time, so the
 * status answers even while HubSpot is unreachable.
 */
export interface InstallStatusStore {
  status(portalId: string): Promise<InstallStatus>;
  recordInstall(portalId: string, at: number, scopes: string[]): Promise<void>;
  recordRevoked(portalId: string, at: number): Promise<void>;
  recordProvisioning(
    portalId: string,
    run: { state: ProvisioningState; at: number; propertiesPresent: number; error?: string | null },
  ): Promise<void>;
  recordWebhook(portalId: string, at: number): Promise<void>;
  recordSweep(portalId: string, at: number): Promise<void>;
}

const iso = (raw: string | undefined) => {
  const n = raw === undefined ? NaN : Number(raw);
  return Number.isSafeInteger(n) && n > 0 ? new Date(n).toISOString() : null;
};

const PROVISIONING_STATES: readonly string[] = ['not_started', 'in_progress', 'complete', 'failed'];

/** One hash per portal: `${prefix}:${portalId}:install`. */
export class RedisInstallStatusStore implements InstallStatusStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(portalId: string): string {
    return `${this.prefix}:${assertKeyPart('portalId', portalId)}:install`;
  }

  async status(portalId: string): Promise<InstallStatus> {
    const h = await this.redis.hgetall(this.key(portalId));
    const installed = h.installedAt !== undefined && (h.revokedAt === undefined || Number(h.revokedAt) < Number(h.installedAt));
    let scopes: string[] = [];
    try {
      const parsed: unknown = JSON.parse(h.scopes ?? '[]');
      if (Array.isArray(parsed)) scopes = parsed.filter((s): s is string => typeof s === 'string');
    } catch {
      // An unreadable scope list reads as "none granted": the page then shows every scope as missing.
    }
    const state = PROVISIONING_STATES.includes(h.provisioningState ?? '') ? (h.provisioningState as ProvisioningState) : 'not_started';
    const present = Number(h.propertiesPresent ?? 0);
    return {
      portalId: Number(portalId),
      installed,
      installedAt: installed ? iso(h.installedAt) : null,
      missingScopes: installed ? REQUIRED_SCOPES.filter((s) => !scopes.includes(s)) : [],
      provisioning: {
        state,
        propertiesExpected: WRITTEN_BACK_PROPERTIES.length,
        propertiesPresent: Number.isSafeInteger(present) && present >= 0 ? present : 0,
        lastRunAt: iso(h.provisionedAt),
        error: state === 'failed' ? (h.provisioningError ?? 'Provisioning failed.') : null,
      },
      lastWebhookAt: iso(h.lastWebhookAt),
      lastSweepAt: iso(h.lastSweepAt),
    };
  }

  async recordInstall(portalId: string, at: number, scopes: string[]): Promise<void> {
    await this.redis.hset(this.key(portalId), { installedAt: String(at), scopes: JSON.stringify(scopes) });
  }

  async recordRevoked(portalId: string, at: number): Promise<void> {
    await this.redis.hset(this.key(portalId), { revokedAt: String(at) });
  }

  async recordProvisioning(
    portalId: string,
    run: { state: ProvisioningState; at: number; propertiesPresent: number; error?: string | null },
  ): Promise<void> {
    const key = this.key(portalId);
    const multi = this.redis
      .multi()
      .hset(key, { provisioningState: run.state, provisionedAt: String(run.at), propertiesPresent: String(run.propertiesPresent) });
    // The error is shown to admins as one sentence; the caller owns keeping HubSpot response text out of it.
    if (run.error) multi.hset(key, { provisioningError: run.error });
    else multi.hdel(key, 'provisioningError');
    await multi.exec();
  }

  /** Only moves forward: webhook batches are handled concurrently and may finish out of order. */
  async recordWebhook(portalId: string, at: number): Promise<void> {
    await this.forward(portalId, 'lastWebhookAt', at);
  }

  async recordSweep(portalId: string, at: number): Promise<void> {
    await this.forward(portalId, 'lastSweepAt', at);
  }

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
