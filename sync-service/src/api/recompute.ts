import type { DealStateStore } from '../state/deal-state-store';

const BATCH = 100;

/**
 * After a playbook save, asks the worker to re-decide every deal with an open visit in the portal: the engine
 * recomputes running clocks (and records why) on its next run for a deal under a new version. Closed and
 * tombstoned deals are skipped.
 */
export function recomputeOpenVisits(deps: {
  states: Pick<DealStateStore, 'loadMany' | 'dealIdPages'>;
  enqueue: (portalId: string, dealIds: string[]) => Promise<unknown>;
}): (portalId: string) => Promise<void> {
  return async (portalId) => {
    for await (const ids of deps.states.dealIdPages(portalId, 500)) {
      for (let i = 0; i < ids.length; i += BATCH) {
        const batch = ids.slice(i, i + BATCH);
        const loaded = await deps.states.loadMany(portalId, batch);
        const open = batch.filter((_, j) => loaded[j]?.state?.current);
        if (open.length > 0) await deps.enqueue(portalId, open);
      }
    }
  };
}
