import { DealState } from '@stagekeeper/shared';
import type { Redis } from 'ioredis';
import type { Logger } from '../log';
import { corruptRecords } from '../metrics';
import { decodeDealState, encodeDealState } from './deal-state-codec';
import { luaScript } from './lua';
import type { Keys } from './keys';

export type LoadedState = {
  state: DealState | null;
  /** Pass back to `save`; 0 when nothing was stored. */
  version: number;
};

/** How long a "no state" marker is kept; it only exists to stop a stale writer from resurrecting old state. */
const TOMBSTONE_TTL_MS = 30 * 24 * 3600_000;

/**
 * Compare-and-set on the version field. A key of the wrong type counts as version 0 (corrupt = missing) and
 * is replaced, so one bad write cannot wedge a deal forever.
 * Returns the new version, or -1 when someone else wrote first.
 */
const casScript = luaScript(`
local t = redis.call('TYPE', KEYS[1])['ok']
local current = 0
if t == 'hash' then current = tonumber(redis.call('HGET', KEYS[1], 'v') or '0') or 0 end
if current ~= tonumber(ARGV[1]) then return -1 end
if t ~= 'hash' and t ~= 'none' then redis.call('DEL', KEYS[1]) end
local nextVersion = current + 1
redis.call('HSET', KEYS[1], 'v', nextVersion, 's', ARGV[2])
if ARGV[2] == '' then redis.call('PEXPIRE', KEYS[1], ARGV[3]) else redis.call('PERSIST', KEYS[1]) end
return nextVersion
`);

/**
 * Deal state per portal and deal with optimistic concurrency: a reconcile and a timer firing for the same deal
 * can race; the loser's save fails and it re-decides from the winner's state.
 */
export class DealStateStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly log: Logger,
  ) {}

  /**
   * The portal's stored deal ids, one SCAN page at a time (`count` is SCAN's hint): SCAN walks the keys without
   * blocking Redis the way KEYS would. Tombstoned deals are included; loading tells them apart.
   */
  async *dealIdPages(portalId: string, count: number): AsyncGenerator<string[]> {
    const prefix = this.keys.dealStatePrefix(portalId);
    let cursor = '0';
    do {
      const [next, found] = await this.redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', count);
      cursor = next;
      yield found.map((k) => k.slice(prefix.length)).filter((id) => /^\d+$/.test(id));
    } while (cursor !== '0');
  }

  async load(portalId: string, dealId: string): Promise<LoadedState> {
    const [loaded] = await this.loadMany(portalId, [dealId]);
    return loaded!;
  }

  async loadMany(portalId: string, dealIds: string[]): Promise<LoadedState[]> {
    if (dealIds.length === 0) return [];
    const pipeline = this.redis.pipeline();
    // Buffers: a state is stored deflated (deal-state-codec.ts), which is not UTF-8.
    for (const id of dealIds) pipeline.hmgetBuffer(this.keys.dealState(portalId, id), 'v', 's');
    const replies = (await pipeline.exec()) ?? [];
    return dealIds.map((dealId, i) => {
      const [err, value] = replies[i] ?? [new Error('no reply'), null];
      if (err) return this.corrupt(portalId, dealId, 0, 'unreadable key');
      const [v, s] = value as [Buffer | null, Buffer | null];
      const version = v === null ? 0 : Number(v.toString('latin1'));
      if (!Number.isSafeInteger(version) || version < 0)
        return this.corrupt(portalId, dealId, 0, 'bad version');
      if (s === null || s.length === 0) return { state: null, version };
      let json: unknown;
      try {
        json = JSON.parse(decodeDealState(s));
      } catch {
        return this.corrupt(portalId, dealId, version, 'not JSON');
      }
      const parsed = DealState.safeParse(json);
      if (!parsed.success)
        return this.corrupt(portalId, dealId, version, `schema: ${parsed.error.issues.length} issue(s)`);
      if (parsed.data.dealId !== dealId)
        return this.corrupt(portalId, dealId, version, 'belongs to another deal');
      return { state: parsed.data, version };
    });
  }

  /** Writes `state` if nobody saved since `expectedVersion` was loaded; false means "reload and decide again". */
  async save(
    portalId: string,
    dealId: string,
    expectedVersion: number,
    state: DealState | null,
  ): Promise<boolean> {
    const body = state === null ? '' : encodeDealState(JSON.stringify(DealState.parse(state)));
    const result = await casScript(
      this.redis,
      [this.keys.dealState(portalId, dealId)],
      [expectedVersion, body, TOMBSTONE_TTL_MS],
    );
    return Number(result) >= 0;
  }

  private corrupt(portalId: string, dealId: string, version: number, why: string): LoadedState {
    // The record is treated as missing so the engine rebuilds it from HubSpot's current facts; the version is
    // kept so the next save still detects a concurrent writer. No content is logged, only what was wrong.
    corruptRecords.inc({ kind: 'deal_state' });
    this.log.warn({ portalId, dealId, why }, 'stored deal state is corrupt; treating it as missing');
    return { state: null, version };
  }
}
