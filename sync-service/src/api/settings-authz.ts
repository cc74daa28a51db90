import type { ApiDeps } from './deps';
import { ApiError } from './errors';
import type { Caller } from './verify';

/**
 * The one place that decides who may change settings (paging channels today). Until the settings-write
 * authorization of issue 12 lands, a write needs a signed HubSpot user (HubSpot signs userId for users of the
 * account; a call without one is not a person on the settings page). Point this at that check when it merges.
 */
export function mayWriteSettings(caller: Caller): boolean {
  return caller.userId !== null && /^\d+$/.test(caller.userId);
}

export async function assertMayWriteSettings(deps: Pick<ApiDeps, 'authorizeSettingsWrite'>, caller: Caller): Promise<void> {
  const allowed = await (deps.authorizeSettingsWrite ?? mayWriteSettings)(caller);
  if (!allowed) throw new ApiError('forbidden', 'Your HubSpot user may not change Stagekeeper settings in this account.');
}
