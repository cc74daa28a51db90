import type { ApiDeps } from './deps';
import { ApiError } from './errors';
import type { Caller } from './verify';

/**
 * The one place that decides who may change a portal's Stagekeeper settings (the playbook, paging channels):
 * only for a portal that installed the app, and only its admins (the list kept at install: the installing super
 * admin, or ADMIN_USER_IDS for static-token portals). A signed request alone proves only that some user of some
 * portal sent it; a call without a userId is no person on the settings page.
 */
export async function assertMayWriteSettings(
  deps: Pick<ApiDeps, 'install' | 'admins' | 'log'>,
  caller: Caller,
  what: string,
): Promise<void> {
  const { portalId, userId } = caller;
  if (!(await deps.install.status(portalId)).installed)
    throw new ApiError(
      'not_installed',
      `Stagekeeper is not installed in this HubSpot account; install it before changing ${what}.`,
    );
  if (!(await deps.admins.isAdmin(portalId, userId))) {
    deps.log.warn({ portalId, userId }, `${what} change refused: not an admin of the portal`);
    throw new ApiError('forbidden', `Only an admin of this HubSpot account can change ${what}.`);
  }
}
