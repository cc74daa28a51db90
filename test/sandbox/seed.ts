import type { Playbook } from '@stagekeeper/shared';
import type { SandboxPortal } from './portal';

/**
 * Creates what a playbook expects to find in HubSpot: its pipelines and stages (closed stages marked closed),
 * and an owner for every id its roles name. Owners get placeholder names; teams become owner teams.
 */
export function seedFromPlaybook(portal: SandboxPortal, playbook: Playbook): void {
  for (const pl of playbook.pipelines) {
    if (
      pl.id === 'default' &&
      portal.pipelines.has('default') &&
      pl.stages.every((s) => portal.pipelines.stage(s.id))
    )
      continue;
    portal.seedPipeline({
      id: pl.id,
      label: pl.label,
      stages: pl.stages.map((s) => ({ id: s.id, label: s.label, isClosed: s.closed })),
    });
  }
  const teamsOf = new Map<string, { id: string; name: string }[]>();
  const owners = new Set<string>();
  for (const role of playbook.roles) {
    for (const id of [...role.owners, role.lead]) {
      owners.add(id);
      if (role.teams.length)
        teamsOf.set(id, [
          ...(teamsOf.get(id) ?? []),
          ...role.teams.map((t) => ({ id: t, name: `${role.name} team ${t}` })),
        ]);
    }
  }
  for (const id of owners) {
    portal.seedOwner({
      id,
      email: `owner${id}@sandbox.test`,
      firstName: 'Owner',
      lastName: id,
      teams: teamsOf.get(id) ?? [],
    });
  }
}
