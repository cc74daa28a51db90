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
  states: Pick<DealStateStore, 'loadMany'>;
  portalId: string;
  now: number;
  weeks: number;
}): Promise<{ rows: HistoryRow[]; running: DealState[] }> {
  const { redis, keys, portalId, now } = deps;
  const from = now - deps.weeks * WHATIF_WEEK_MS;
  // Oldest exit first, as the replay has always been given them.
  const rows = (
    await new HistoryWeeks(redis, keys, new HistoryStore(redis, keys, deps.log)).rows(portalId, from, now)
  ).sort((a, b) => a.exitedAt - b.exitedAt);
  // Deal keys of the portal (keys.ts layout); SCAN walks them without blocking Redis.
  const prefix = keys.dealState(portalId, '0').slice(0, -1);
  const running: DealState[] = [];
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', BATCH);
    cursor = next;
    const ids = found.map((k) => k.slice(prefix.length)).filter((id) => /^\d+$/.test(id));
    const loaded = await deps.states.loadMany(portalId, ids);
    for (const l of loaded) if (l.state?.current && !l.state.closedReason) running.push(l.state);
  } while (cursor !== '0');
  return { rows, running };
}
