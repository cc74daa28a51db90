import type { InstallRegistry, ProvisioningState } from '../install/registry';
import type { PortalActivityStore } from '../state/portal-activity-store';

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
