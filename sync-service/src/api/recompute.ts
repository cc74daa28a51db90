import type { Redis } from 'ioredis';
import type { DealStateStore } from '../state/deal-state-store';
import { assertKeyPart } from '../state/keys';

const BATCH = 100;

/**
 * After a playbook save, asks the worker to re-decide every deal with an open visit in the portal: the engine
 * recomputes running clocks (and records why) on its next run for a deal under a new version. Deal keys are found
 * by SCAN (`${prefix}:${portalId}:deal:*`, keys.ts layout); closed and tombstoned deals are skipped.
 */
export function recomputeOpenVisits(deps: {
  redis: Redis;
  prefix: string;
  states: Pick<DealStateStore, 'loadMany'>;
  enqueue: (portalId: string, dealIds: string[]) => Promise<unknown>;
}): (portalId: string) => Promise<void> {
  return async (portalId) => {
    const match = `${deps.prefix}:${assertKeyPart('portalId', portalId)}:deal:`;
    let cursor = '0';
    do {
      const [next, keys] = await deps.redis.scan(cursor, 'MATCH', `${match}*`, 'COUNT', 500);
      cursor = next;
      const ids = keys.map((k) => k.slice(match.length)).filter((id) => /^\d+$/.test(id));
      for (let i = 0; i < ids.length; i += BATCH) {
        const batch = ids.slice(i, i + BATCH);
        const loaded = await deps.states.loadMany(portalId, batch);
        const open = batch.filter((_, j) => loaded[j]?.state?.current);
        if (open.length > 0) await deps.enqueue(portalId, open);
      }
    } while (cursor !== '0');
  };
}
