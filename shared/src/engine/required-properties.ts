import type { Criterion, Playbook } from '../playbook/schema';
import { P } from '../properties';

/**
 * Every deal property the engine reads, for the service's batch read: HubSpot returns only the properties
 * asked for, so a criterion whose property is missing here would silently never hold.
 */
export function requiredProperties(playbook: Playbook): string[] {
  const names = new Set<string>(['dealstage', 'pipeline', 'hubspot_owner_id']);
  const add = (criteria: readonly Criterion[]) => {
    for (const c of criteria) if (c.op !== 'taskDone') names.add(c.property);
  };
  for (const pipeline of playbook.pipelines)
    for (const stage of pipeline.stages) {
      names.add(`hs_v2_date_entered_${stage.id}`);
      add(stage.entryCriteria);
      add(stage.exitCriteria);
      if (stage.sla) {
        add(stage.sla.pauseWhen);
        for (const o of stage.sla.overrides) add(o.when);
      }
    }
  names.add(playbook.signals.contactAttempts);
  if (playbook.signals.lastInboundReply) names.add(playbook.signals.lastInboundReply);
  // Counters restart from these when stored state is lost.
  names.add(P.breachCount);
  names.add(P.backflowCount);
  return [...names].sort();
}
