import type { Playbook } from '@stagekeeper/shared';
import type { PortalCaller } from '../hubspot/call';
import { provision, type ProvisionReport } from '../provision';
import type { PlaybookSource } from '../state/playbook-store';

export type InstallProvisioning = { report: ProvisionReport; checkedPlaybook: boolean };
export type ProvisionPortal = (portalId: string) => Promise<InstallProvisioning>;

/**
 * A fresh install usually has no playbook yet (the first one is uploaded after install), but the property group
 * and the written-back properties do not depend on it. With no pipelines the playbook checks have nothing to look
 * at; the criteria check still sees the default contact-attempts signal, so its findings are reported only when a
 * real playbook was used (see InstallRegistry.markProvisioned).
 */
const PROPERTIES_ONLY: Playbook = {
  schemaVersion: 1,
  name: 'properties only',
  version: 0,
  calendars: [],
  roles: [],
  pipelines: [],
  signals: { contactAttempts: 'num_contacted_notes' },
  clocks: [],
};

export function provisionerFor(deps: {
  caller: { forPortal(portalId: string): PortalCaller };
  playbooks: Pick<PlaybookSource, 'current'>;
}): ProvisionPortal {
  return async (portalId) => {
    const current = await deps.playbooks.current(portalId);
    const report = await provision({ client: deps.caller.forPortal(portalId), playbook: current?.playbook ?? PROPERTIES_ONLY });
    return { report, checkedPlaybook: current !== null };
  };
}
