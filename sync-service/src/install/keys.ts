import { assertKeyPart, redisKeys } from '../state/keys';

/**
 * Redis keys owned by the install flow, laid out like state/keys.ts (prefix, then portal id) so a portal's keys
 * and a test's prefix can be cleaned the same way.
 */
export function installKeys(prefix: string) {
  const shared = redisKeys(prefix);
  const p = (portalId: string) => `${prefix}:${assertKeyPart('portalId', portalId)}`;
  return {
    /** String: the encrypted OAuth token blob (see token-store.ts). */
    tokens: (portalId: string) => `${p(portalId)}:oauth:tokens`,
    /** Hash {install: JSON, provisioning: JSON}; separate fields so install and provisioning never overwrite each other. */
    status: (portalId: string) => `${p(portalId)}:install`,
    /** Set of HubSpot user ids allowed to change the playbook and uninstall (the installer, ADMIN_USER_IDS). */
    admins: (portalId: string) => `${p(portalId)}:admins`,
    portals: shared.portals,
    sweepCursor: shared.sweepCursor,
  };
}

export type InstallKeys = ReturnType<typeof installKeys>;
