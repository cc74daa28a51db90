import { useEffect, useRef } from 'react';

/** Deal properties whose change means the card is stale whatever the playbook says. */
export const CORE_PROPERTIES = [
  'dealstage',
  'pipeline',
  'hubspot_owner_id',
  'stagekeeper_sla_status',
  'stagekeeper_sla_due_at',
  'stagekeeper_breach_reason',
  'stagekeeper_gate_status',
  'stagekeeper_gate_missing',
  'stagekeeper_stage_owner_role',
];

type Subscribe = (properties: string[] | '*', cb: (properties: Record<string, string>) => void) => void;

/**
 * Calls `onChange` when a watched deal property changes on the record. HubSpot offers no unsubscribe, so
 * we subscribe once to every property and filter here: the properties worth watching (exit-criteria
 * fields) are only known after the service has answered, and they change with the stage.
 */
export function useWatchedProperties(subscribe: Subscribe, watched: string[], onChange: () => void): void {
  const watchedRef = useRef(watched);
  const onChangeRef = useRef(onChange);
  const lastSeen = useRef<Record<string, string> | null>(null);
  watchedRef.current = watched;
  onChangeRef.current = onChange;
  useEffect(() => {
    subscribe('*', (properties) => {
      const previous = lastSeen.current;
      lastSeen.current = { ...(previous ?? {}), ...properties };
      // The first delivery may be the current values rather than a change; the mount fetch covers it.
      if (previous === null) return;
      const changed = [...CORE_PROPERTIES, ...watchedRef.current].some(
        (name) => name in properties && properties[name] !== previous[name],
      );
      if (changed) onChangeRef.current();
    });
    // Subscribing once is deliberate (see above).
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
}
