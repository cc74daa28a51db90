import { WHATIF_WEEK_MS, type DealState, type HistoryRow } from '@stagekeeper/shared';
import type { Redis } from 'ioredis';
import type { Logger } from '../log';
import type { DealStateStore } from '../state/deal-state-store';
import { HistoryStore } from '../state/history-store';
import type { Keys } from '../state/keys';
import { HistoryWeeks } from './history-weeks';

const BATCH = 500;

/**
 * What a what-if replays, read from the service's stores: the stage visits that ended in the last `weeks` weeks
 * and the stored state of every deal with a visit open now (for the repair preview). Shared by the CLI and the
 * settings API so both answer the same question the same way.
 */
export async function readWhatIfData(deps: {
  redis: Redis;
  keys: Keys;
  log: Logger;
  states: Pick<DealStateStore, 'loadMany' | 'dealIdPages'>;
  portalId: string;
  now: number;
  weeks: number;
}): Promise<{ rows: HistoryRow[]; running: DealState[] }> {
  const { redis, keys, portalId, now } = deps;
  const from = now - deps.weeks * WHATIF_WEEK_MS;
  // Oldest exit first, as the replay has always been given them. weeks: 0 asks for the running deals alone (the
  // scorecard, for its open visits): reading the visits would decode the whole current week for nothing.
  const rows =
    deps.weeks > 0
      ? (
          await new HistoryWeeks(redis, keys, new HistoryStore(redis, keys, deps.log)).rows(
            portalId,
            from,
            now,
          )
        ).sort((a, b) => a.exitedAt - b.exitedAt)
      : [];
  const running: DealState[] = [];
  for await (const ids of deps.states.dealIdPages(portalId, BATCH)) {
    const loaded = await deps.states.loadMany(portalId, ids);
    for (const l of loaded) if (l.state?.current && !l.state.closedReason) running.push(l.state);
  }
  return { rows, running };
}
