import { DealState } from '@stagekeeper/shared';
import type { Redis } from 'ioredis';
import type { Logger } from '../log';
import { corruptRecords } from '../metrics';
import {
  decodeDealRecord,
  decodeDealState,
  encodeDealState,
  RECORD_VERSION_DIGITS,
} from './deal-state-codec';
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
 * Compare-and-set on the version in front of the record (`<version>:<body>`, deal-state-codec.ts). A key saved
 * in the older shape, a hash {v, s}, gives its version from `v`; a key of any other type or shape counts as
 * version 0 (corrupt = missing) and is replaced, so one bad write cannot wedge a deal forever. SET replaces a key
 * of any type and drops a tombstone's TTL.
 * Returns the new version, or -1 when someone else wrote first.
 */
const casScript = luaScript(`
local head = redis.pcall('GETRANGE', KEYS[1], 0, ${RECORD_VERSION_DIGITS})
local current
if type(head) == 'string' then
  current = tonumber(string.match(head, '^(%d+):') or '0')
else
  current = tonumber(redis.pcall('HGET', KEYS[1], 'v')) or 0
end
if current ~= tonumber(ARGV[1]) then return -1 end
local nextVersion = current + 1
if ARGV[2] == '' then
  redis.call('SET', KEYS[1], nextVersion .. ':', 'PX', ARGV[3])
else
  redis.call('SET', KEYS[1], nextVersion .. ':' .. ARGV[2])
end
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
    const keyOf = (id: string) => this.keys.dealState(portalId, id);
    const pipeline = this.redis.pipeline();
    // Buffers: a state is stored deflated (deal-state-codec.ts), which is not UTF-8.
    for (const id of dealIds) pipeline.getBuffer(keyOf(id));
    const replies = (await pipeline.exec()) ?? [];
    const wrongType = (err: Error | null | undefined) => !!err && err.message.startsWith('WRONGTYPE');
    // Deals not saved since records became strings are hashes {v, s}: a second round trip for those only.
    const older = dealIds.filter((_, i) => wrongType(replies[i]?.[0]));
    const hashes = new Map<string, [Error | null, unknown]>();
    if (older.length > 0) {
      const again = this.redis.pipeline();
      for (const id of older) again.hmgetBuffer(keyOf(id), 'v', 's');
      const res = (await again.exec()) ?? [];
      older.forEach((id, i) => hashes.set(id, res[i] ?? [new Error('no reply'), null]));
    }
    return dealIds.map((dealId, i) => {
      const [err, value] = hashes.get(dealId) ?? replies[i] ?? [new Error('no reply'), null];
      if (err) return this.corrupt(portalId, dealId, 0, 'unreadable key');
      if (hashes.has(dealId)) {
        const [v, s] = value as [Buffer | null, Buffer | null];
        const version = v === null ? 0 : Number(v.toString('latin1'));
        if (!Number.isSafeInteger(version) || version < 0)
          return this.corrupt(portalId, dealId, 0, 'bad version');
        return this.parse(portalId, dealId, version, s);
      }
      if (value === null) return { state: null, version: 0 };
      const record = decodeDealRecord(value as Buffer);
      if (!record || !Number.isSafeInteger(record.version))
        return this.corrupt(portalId, dealId, 0, 'bad version');
      return this.parse(portalId, dealId, record.version, record.body);
    });
  }

  private parse(portalId: string, dealId: string, version: number, body: Buffer | null): LoadedState {
    if (body === null || body.length === 0) return { state: null, version };
    let json: unknown;
    try {
      json = JSON.parse(decodeDealState(body));
    } catch {
      return this.corrupt(portalId, dealId, version, 'not JSON');
    }
    const parsed = DealState.safeParse(json);
    if (!parsed.success)
      return this.corrupt(portalId, dealId, version, `schema: ${parsed.error.issues.length} issue(s)`);
    if (parsed.data.dealId !== dealId)
      return this.corrupt(portalId, dealId, version, 'belongs to another deal');
    return { state: parsed.data, version };
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
