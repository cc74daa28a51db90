import type { Redis } from 'ioredis';
import { WRITTEN_BACK_PROPERTIES } from '@stagekeeper/shared';
import { corruptRecords } from '../metrics';
import type { ProvisionReport } from '../provision';
import { redisKeys, type Keys } from '../state/keys';
import { missingScopes } from './scopes';

/**
 * Per-portal install and provisioning status, the source of `GET /api/settings/status` (docs/hubspot-app.md §4.6).
 * Install and provisioning are separate hash fields, so a provisioning run started elsewhere (a playbook save)
 * cannot overwrite an install or uninstall that happened meanwhile.
 */

export type ProvisioningState = 'not_started' | 'in_progress' | 'complete' | 'failed';

export type ProvisioningStatus = {
  state: ProvisioningState;
  propertiesExpected: number;
  propertiesPresent: number;
  /** ISO instant of the last run's start. */
  lastRunAt: string | null;
  /** One sentence when the last run failed. */
  error: string | null;
  /** Things to fix in the portal (property type clashes, pipelines or properties the playbook needs). */
  issues: string[];
  warnings: string[];
  /** False when the last run had no playbook to check pipelines against (fresh install). */
  checkedPlaybook: boolean;
};

export type InstallStatus = {
  portalId: string;
  installed: boolean;
  installedAt: string | null;
  uninstalledAt: string | null;
  /** 'oauth' for app installs; 'static' for the single-portal private-app token mode. */
  mode: 'oauth' | 'static' | null;
  /** Scopes the token carries; null when unknown (static tokens). */
  scopes: string[] | null;
  missingScopes: string[];
  provisioning: ProvisioningStatus;
};

type InstallRecord = Pick<InstallStatus, 'installed' | 'installedAt' | 'uninstalledAt' | 'mode' | 'scopes'>;
type ProvisioningRecord = Omit<ProvisioningStatus, 'propertiesExpected'>;

const EXPECTED = WRITTEN_BACK_PROPERTIES.length;

const NO_INSTALL: InstallRecord = {
  installed: false,
  installedAt: null,
  uninstalledAt: null,
  mode: null,
  scopes: null,
};
const NO_PROVISIONING: ProvisioningRecord = {
  state: 'not_started',
  propertiesPresent: 0,
  lastRunAt: null,
  error: null,
  issues: [],
  warnings: [],
  checkedPlaybook: false,
};

export class InstallRegistry {
  private readonly keys: Keys;
  private readonly now: () => number;

  constructor(
    private readonly redis: Redis,
    prefix: string,
    clock: () => number = Date.now,
  ) {
    this.keys = redisKeys(prefix);
    this.now = clock;
  }

  /** Always a full status: a portal never seen reads as not installed, provisioning not started. */
  async get(portalId: string): Promise<InstallStatus> {
    const [installRaw, provRaw] = await this.redis.hmget(
      this.keys.install(portalId),
      'install',
      'provisioning',
    );
    const install = parse(installRaw, NO_INSTALL);
    const prov = parse(provRaw, NO_PROVISIONING);
    return {
      portalId,
      ...install,
      missingScopes: missingScopes(install.scopes),
      provisioning: { ...prov, propertiesExpected: EXPECTED },
    };
  }

  /**
   * Records the install and adds the portal to the set the sweep walks. `admins`: HubSpot user ids who may change
   * the playbook and uninstall (the installing user for OAuth: HubSpot lets only super admins install apps).
   */
  async markInstalled(
    portalId: string,
    opts: { mode: 'oauth' | 'static'; scopes: string[] | null; admins?: string[] },
  ): Promise<void> {
    const previous = parse(await this.redis.hget(this.keys.install(portalId), 'install'), NO_INSTALL);
    const record: InstallRecord = {
      installed: true,
      // A restart in static mode or a repeated install keeps the original date: "installed since".
      installedAt: previous.installed && previous.installedAt ? previous.installedAt : this.iso(),
      uninstalledAt: null,
      mode: opts.mode,
      scopes: opts.scopes,
    };
    const tx = this.redis
      .multi()
      .hset(this.keys.install(portalId), 'install', JSON.stringify(record))
      .sadd(this.keys.portals(), portalId);
    if (opts.admins?.length) tx.sadd(this.keys.admins(portalId), ...opts.admins);
    await tx.exec().then(execOk);
  }

  /**
   * Whether a HubSpot user may change the portal's playbook or uninstall: installed, and in the admin list kept
   * at install. Checking HubSpot's super-admin flag instead would need the settings.users.read scope.
   */
  async isAdmin(portalId: string, userId: string | null): Promise<boolean> {
    if (userId === null || !/^\d{1,20}$/.test(userId)) return false;
    const [status, member] = await Promise.all([
      this.get(portalId),
      this.redis.sismember(this.keys.admins(portalId), userId),
    ]);
    return status.installed && member === 1;
  }

  async markProvisioning(portalId: string): Promise<void> {
    const prev = parse(await this.redis.hget(this.keys.install(portalId), 'provisioning'), NO_PROVISIONING);
    await this.writeProvisioning(portalId, {
      ...prev,
      state: 'in_progress',
      lastRunAt: this.iso(),
      error: null,
    });
  }

  /** `checkedPlaybook`: false when the run had no playbook, so pipeline and criteria checks did not happen. */
  async markProvisioned(
    portalId: string,
    report: ProvisionReport,
    opts: { checkedPlaybook: boolean },
  ): Promise<void> {
    const prev = parse(await this.redis.hget(this.keys.install(portalId), 'provisioning'), NO_PROVISIONING);
    const present = new Set([...report.created, ...report.existing, ...report.updated.map((u) => u.name)]);
    const ours = WRITTEN_BACK_PROPERTIES.filter((d) => present.has(d.name)).length;
    const issues = [
      ...report.mismatches,
      ...(opts.checkedPlaybook
        ? [
            ...report.missingProperties.map(
              (m) => `deal property "${m.property}" is read by the playbook but missing in the portal`,
            ),
            ...(report.unreadableProperties ?? []).map(
              (m) =>
                `deal property "${m.property}" is ${m.sensitivity === 'sensitive' ? 'Sensitive' : 'Highly Sensitive'} Data the app cannot read: ${m.fix}`,
            ),
          ]
        : []),
    ];
    await this.writeProvisioning(portalId, {
      state: ours === EXPECTED ? 'complete' : 'failed',
      propertiesPresent: ours,
      lastRunAt: prev.lastRunAt ?? this.iso(),
      error:
        ours === EXPECTED
          ? null
          : `${EXPECTED - ours} Stagekeeper properties could not be created or updated`,
      issues,
      warnings: report.warnings,
      checkedPlaybook: opts.checkedPlaybook,
    });
  }

  /** `error` is shown to admins as is: one sentence, no property values. */
  async markProvisionFailed(portalId: string, error: string): Promise<void> {
    const prev = parse(await this.redis.hget(this.keys.install(portalId), 'provisioning'), NO_PROVISIONING);
    await this.writeProvisioning(portalId, {
      ...prev,
      state: 'failed',
      lastRunAt: prev.lastRunAt ?? this.iso(),
      error,
    });
  }

  /**
   * Deletes the portal's tokens, takes it off the sweep and forgets its sweep cursors (a reinstall starts from a
   * fresh look-back instead of re-scanning the whole uninstalled period, and a new round of the audit of tracked
   * deals). Stored deal state and playbooks stay.
   */
  async markUninstalled(portalId: string): Promise<void> {
    const previous = parse(await this.redis.hget(this.keys.install(portalId), 'install'), NO_INSTALL);
    const record: InstallRecord = { ...previous, installed: false, uninstalledAt: this.iso() };
    await this.redis
      .multi()
      .del(this.keys.oauthTokens(portalId))
      .srem(this.keys.portals(), portalId)
      .del(this.keys.sweepCursor(portalId))
      .del(this.keys.sweepAuditCursor(portalId))
      // The next install names its own admin.
      .del(this.keys.admins(portalId))
      .hset(this.keys.install(portalId), 'install', JSON.stringify(record))
      .exec()
      .then(execOk);
  }

  private async writeProvisioning(portalId: string, record: ProvisioningRecord): Promise<void> {
    await this.redis.hset(this.keys.install(portalId), 'provisioning', JSON.stringify(record));
  }

  private iso(): string {
    return new Date(this.now()).toISOString();
  }
}

/** A damaged status record reads as the default: it is advisory, and the next install or run rewrites it. */
function parse<T extends object>(raw: string | null | undefined, fallback: T): T {
  if (raw === null || raw === undefined) return fallback;
  try {
    const value = JSON.parse(raw) as unknown;
    if (typeof value === 'object' && value !== null && !Array.isArray(value))
      return { ...fallback, ...(value as Partial<T>) };
  } catch {
    // fall through
  }
  corruptRecords.inc({ kind: 'install_status' });
  return fallback;
}

function execOk(results: [Error | null, unknown][] | null): void {
  const failed = results?.find(([err]) => err);
  if (!results || failed) throw failed?.[0] ?? new Error('redis transaction aborted');
}
