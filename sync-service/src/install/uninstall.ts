import { Client } from '@hubspot/api-client';
import type { Logger } from '../log';
import type { InstallRegistry } from './registry';
import type { EncryptedRedisTokenStore } from './token-store';

export type UninstallDeps = {
  tokens: Pick<EncryptedRedisTokenStore, 'get'>;
  registry: Pick<InstallRegistry, 'markUninstalled'>;
  /** Revokes a refresh token at HubSpot; defaults to `DELETE /oauth/v1/refresh-tokens/{token}`. */
  revoke?: (refreshToken: string) => Promise<void>;
  basePath?: string;
  log: Logger;
};

export function hubspotRevoker(basePath?: string): (refreshToken: string) => Promise<void> {
  const client = new Client(basePath ? { basePath } : {});
  return async (refreshToken) => {
    await client.oauth.refreshTokensApi.archive(refreshToken);
  };
}

/**
 * Disconnects a portal: the refresh token is revoked at HubSpot (best effort: a portal that already removed the
 * app has revoked it itself), then tokens, sweep membership and cursor go (InstallRegistry.markUninstalled).
 * Processes that still hold the old access token in memory lose it at the next 401: the refresh finds no stored
 * tokens and fails with NoTokenError.
 */
export async function uninstallPortal(deps: UninstallDeps, portalId: string): Promise<{ revoked: boolean }> {
  let revoked = false;
  let tokens = null;
  try {
    tokens = await deps.tokens.get(portalId);
  } catch {
    // Unreadable tokens cannot be revoked, but they must still be deleted.
  }
  if (tokens) {
    try {
      await (deps.revoke ?? hubspotRevoker(deps.basePath))(tokens.refreshToken);
      revoked = true;
    } catch (err) {
      deps.log.warn(
        { portalId, err: err instanceof Error ? { name: err.name } : undefined },
        'refresh token revoke failed; deleting locally anyway',
      );
    }
  }
  await deps.registry.markUninstalled(portalId);
  deps.log.info({ portalId, revoked }, 'portal uninstalled');
  return { revoked };
}

/**
 * The app was removed on HubSpot's side: HubSpot refused the portal's refresh token. HubSpot sends project apps
 * no uninstall webhook (an APP_UNINSTALL event exists only in its webhooks journal API, polled with a client
 * credentials token), so a refused refresh, which follows the first 401, is how it is noticed. The portal is
 * disconnected as by an admin's uninstall (tokens, sweep membership, status), minus the revoke HubSpot did.
 */
export async function uninstalledInHubSpot(
  registry: Pick<InstallRegistry, 'markUninstalled'>,
  portalId: string,
  log?: Logger,
): Promise<void> {
  await registry.markUninstalled(portalId);
  log?.warn(
    { portalId },
    'HubSpot refused the refresh token: the app was uninstalled in HubSpot or its access revoked; portal disconnected',
  );
}
