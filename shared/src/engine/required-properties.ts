import { propertyUses } from '../playbook/property-uses';
import type { Playbook } from '../playbook/schema';
import { P } from '../properties';

/**
 * Every deal property the engine reads, for the service's batch read: HubSpot returns only the properties
 * asked for, so a criterion whose property is missing here would silently never hold.
 */
export function requiredProperties(playbook: Playbook): string[] {
  let names = listed.get(playbook);
  if (!names) listed.set(playbook, (names = list(playbook)));
  return [...names];
}

/**
 * Lists per playbook object: every run of every deal asks (the playbook store hands out one object per version),
 * and walking the playbook each time was 15 KB of garbage per deal in a bulk move. Playbooks are never changed in
 * place, so an object's list never goes stale.
 */
const listed = new WeakMap<Playbook, readonly string[]>();

function list(playbook: Playbook): string[] {
  const names = new Set<string>(['dealstage', 'pipeline', 'hubspot_owner_id']);
  for (const pipeline of playbook.pipelines)
    for (const stage of pipeline.stages) names.add(`hs_v2_date_entered_${stage.id}`);
  // What the engine reads: criteria and signals (escalation actions only write).
  for (const use of propertyUses(playbook)) if (use.source !== 'action') names.add(use.property);
  // Scorecard dimensions are recorded on each visit at exit.
  for (const d of playbook.scorecard?.dimensions ?? []) names.add(d.property);
  // Counters restart from these when stored state is lost.
  names.add(P.breachCount);
  names.add(P.backflowCount);
  // Closed stages that take a closure reason gate on it.
  if (playbook.pipelines.some((pl) => pl.stages.some((s) => s.closureReasons))) names.add(P.closureReason);
  return [...names].sort();
}
