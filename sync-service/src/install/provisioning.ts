import { loadExamplePlaybook, type Playbook } from '@stagekeeper/shared';
import type { AccountTimeZones } from '../hubspot/account-zone';
import type { PortalCaller } from '../hubspot/call';
import { provision, type ProvisionReport } from '../provision';
import type { PlaybookSource } from '../state/playbook-store';

export type InstallProvisioning = {
  report: ProvisionReport;
  checkedPlaybook: boolean;
  /** Set when this install put the starter playbook in force (the portal's pipelines matched it). */
  publishedStarter?: { name: string; version: number };
};
/** `grantedScopes`: what the install granted, so Sensitive Data properties the app may not read are reported. */
export type ProvisionPortal = (
  portalId: string,
  opts?: { grantedScopes?: readonly string[] | null },
) => Promise<InstallProvisioning>;

let starter: Playbook | undefined;
/**
 * The playbook a portal without one is offered: the canonical telehealth playbook (shared/playbooks). Published
 * at install when the portal's pipelines and stages match it; otherwise the settings page offers it.
 */
export function starterPlaybook(): Playbook {
  starter ??= loadExamplePlaybook('telehealth');
  return starter;
}

/**
 * A fresh install has no playbook. Provisioning runs with the starter playbook: the property group and the
 * written-back properties do not depend on it, and its pipeline check says whether the portal already runs
 * that journey. If every pipeline and stage matches, the starter is published as version 1 so the portal works
 * without the CLI; if not, the mismatches are not the portal's fault and are not reported (the settings page
 * offers the starter, or the admin writes their own).
 */
export function provisionerFor(deps: {
  caller: { forPortal(portalId: string): PortalCaller };
  playbooks: Pick<PlaybookSource, 'current'> & {
    save(portalId: string, playbook: unknown): Promise<{ version: number }>;
  };
  /** Learns the account's time zone while quota is left (the daily reset is midnight there). */
  zones?: Pick<AccountTimeZones, 'learn'>;
}): ProvisionPortal {
  return async (portalId, opts = {}) => {
    const client = deps.caller.forPortal(portalId);
    await deps.zones?.learn(client);
    const grantedScopes = opts.grantedScopes ?? null;
    const current = await deps.playbooks.current(portalId);
    if (current)
      return {
        report: await provision({ client, playbook: current.playbook, grantedScopes }),
        checkedPlaybook: true,
      };

    const candidate = starterPlaybook();
    const report = await provision({ client, playbook: candidate, grantedScopes });
    if (report.mismatches.length === 0) {
      const saved = await deps.playbooks.save(portalId, candidate);
      return {
        report,
        checkedPlaybook: true,
        publishedStarter: { name: candidate.name, version: saved.version },
      };
    }
    const propertiesOnly: ProvisionReport = {
      ...report,
      mismatches: [],
      missingProperties: [],
      unreadableProperties: [],
      warnings: [],
      ok: true,
    };
    return { report: propertiesOnly, checkedPlaybook: false };
  };
}
