import { DealState } from '@stagekeeper/shared';
import { randomBytes } from 'node:crypto';
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
-- The tracked set follows the state. pcall: a set key of another type (corruption) must not fail the save;
-- readers then find no complete marker and scan.
if ARGV[2] == '' then
  redis.call('SET', KEYS[1], nextVersion .. ':', 'PX', ARGV[3])
  redis.pcall('SREM', KEYS[2], ARGV[4])
else
  redis.call('SET', KEYS[1], nextVersion .. ':' .. ARGV[2])
  redis.pcall('SADD', KEYS[2], ARGV[4])
end
return nextVersion
`);

/** Members of the tracked set that are not deal ids: a colon is never in one (keys.ts refuses it). */
const COMPLETE = ':complete';
const BUILDING = ':building:';
const DEAL_ID = /^\d+$/;
/** SCAN's page hint for the walk that completes the tracked set. */
const WALK_PAGE = 1000;

/**
 * A walk of the dealState keys begins: its marker goes into the tracked set (a set key of another type, corrupt,
 * is replaced). The walk may mark the set complete only if its marker is still there at the end: a set lost
 * meanwhile (a flush, a data loss) misses ids the walk already passed.
 * KEYS: tracked set. ARGV: the walk's marker.
 */
const walkStartScript = luaScript(`
local t = redis.call('TYPE', KEYS[1])['ok']
if t ~= 'set' and t ~= 'none' then redis.call('DEL', KEYS[1]) end
redis.call('SADD', KEYS[1], ARGV[1])
return 1
`);

/**
 * One page of the walk: the ids whose key holds a state (not a tombstone) are added. Atomic against the state
 * save, so an id tombstoned meanwhile is not added back. 0 when the walk's marker is gone (see walkStartScript).
 * KEYS: tracked set, then the dealState key of each id. ARGV: the walk's marker, then the ids.
 */
const walkPageScript = luaScript(`
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then return 0 end
for i = 2, #KEYS do
  -- A state is '<version>:<body>' with a body (a tombstone has none), or the older hash {v, s} with an s.
  local record = redis.pcall('GET', KEYS[i])
  local held
  if type(record) == 'string' then
    local colon = string.find(record, ':', 1, true)
    held = colon ~= nil and colon < #record
  else
    local s = redis.pcall('HGET', KEYS[i], 's')
    held = type(s) == 'string' and s ~= ''
  end
  if held then redis.call('SADD', KEYS[1], ARGV[i]) end
end
return 1
`);

/** The walk is done: the set is complete if its marker survived. KEYS: tracked set. ARGV: marker, COMPLETE. */
const walkEndScript = luaScript(`
if redis.call('SREM', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('SADD', KEYS[1], ARGV[2])
return 1
`);

/**
 * Deal state per portal and deal with optimistic concurrency: a reconcile and a timer firing for the same deal
 * can race; the loser's save fails and it re-decides from the winner's state.
 */
export class DealStateStore {
  private stopped = false;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly log: Logger,
  ) {}

  /**
   * The portal's stored deal ids, a page at a time (`count` is the page hint), each id once. From the portal's
   * tracked set when it is complete: O(deals), however many other keys Redis holds (a SCAN of the keyspace took
   * ~3,000 round trips at a million history keys). Otherwise (ids saved before the set existed, or the set lost
   * with a data loss) by SCAN as before, which completes the set on the way. May include tombstoned or deleted
   * deals; loading tells them apart.
   */
  async *dealIdPages(portalId: string, count: number): AsyncGenerator<string[]> {
    if (!(await this.isTracked(portalId))) {
      yield* this.walk(portalId, count);
      return;
    }
    const set = this.keys.trackedDeals(portalId);
    // SSCAN may return a member twice (the set resized meanwhile); a deal counted twice would skew the scorecard.
    const seen = new Set<string>();
    let cursor = '0';
    do {
      const [next, members] = await this.redis.sscan(set, cursor, 'COUNT', count);
      cursor = next;
      const ids = members.filter((id) => DEAL_ID.test(id) && !seen.has(id));
      for (const id of ids) seen.add(id);
      if (ids.length > 0) yield ids;
    } while (cursor !== '0');
  }

  /**
   * One SSCAN step over the portal's tracked set from `cursor`, for the sweep's audit of tracked deals, which
   * resumes where its last sweep stopped: the deal ids it gave (a later step may give one again) and the next
   * cursor ('0': the round is over). null while the set is incomplete (built after a start or a data loss) or
   * unreadable: the audit waits for it rather than scanning the keyspace. One round trip: the complete marker is
   * asked with the step.
   */
  async trackedPage(
    portalId: string,
    cursor: string,
    count: number,
  ): Promise<{ ids: string[]; cursor: string } | null> {
    const set = this.keys.trackedDeals(portalId);
    const [complete, step] =
      (await this.redis.pipeline().sismember(set, COMPLETE).sscan(set, cursor, 'COUNT', count).exec()) ?? [];
    if (complete?.[0] || complete?.[1] !== 1 || !step || step[0]) return null;
    const [next, members] = step[1] as [string, string[]];
    return { ids: members.filter((id) => DEAL_ID.test(id)), cursor: next };
  }

  /**
   * Completes the portal's tracked set if it is not (the service does it at start, in the background, and after
   * a data loss); true once it is complete. Stops early, leaving it for the next reader, after `stop()`.
   */
  async ensureTracked(portalId: string): Promise<boolean> {
    if (await this.isTracked(portalId)) return true;
    for await (const _page of this.walk(portalId, WALK_PAGE)) if (this.stopped) break;
    return this.isTracked(portalId);
  }

  /** Ends walks in progress at their next page (the service closing). */
  stop(): void {
    this.stopped = true;
  }

  /** Whether the tracked set holds every id with a state (its complete marker); false if unreadable. */
  private async isTracked(portalId: string): Promise<boolean> {
    const set = this.keys.trackedDeals(portalId);
    return (await this.redis.sismember(set, COMPLETE).catch(() => 0)) === 1;
  }

  /**
   * The ids of the dealState keys by SCAN (a key can come twice: deduped), adding the stored ones to the tracked
   * set as it goes and marking the set complete at the end. A state saved during the walk is added by its save;
   * tracking that fails leaves the set incomplete, never the read unanswered.
   */
  private async *walk(portalId: string, count: number): AsyncGenerator<string[]> {
    const prefix = this.keys.dealStatePrefix(portalId);
    const set = this.keys.trackedDeals(portalId);
    const marker = `${BUILDING}${randomBytes(6).toString('hex')}`;
    let tracking = await walkStartScript(this.redis, [set], [marker]).then(
      () => true,
      () => false,
    );
    let done = false;
    const seen = new Set<string>();
    try {
      let cursor = '0';
      do {
        const [next, found] = await this.redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', count);
        cursor = next;
        const ids = found
          .map((k) => k.slice(prefix.length))
          .filter((id) => DEAL_ID.test(id) && !seen.has(id));
        for (const id of ids) seen.add(id);
        if (tracking && ids.length > 0)
          tracking = await walkPageScript(
            this.redis,
            [set, ...ids.map((id) => this.keys.dealState(portalId, id))],
            [marker, ...ids],
          ).then(
            (r) => Number(r) === 1,
            () => false,
          );
        yield ids;
      } while (cursor !== '0');
      if (tracking) await walkEndScript(this.redis, [set], [marker, COMPLETE]);
      done = true;
    } finally {
      // A walk stopped early or failed: its marker goes, so the set does not collect them.
      if (!done) await this.redis.srem(set, marker).catch(() => undefined);
    }
  }
  async load(portalId: string, dealId: string): Promise<LoadedState> {
    const [loaded] = await this.loadMany(portalId, [dealId]);
    return loaded!;
  }

  async loadMany(portalId: string, dealIds: string[]): Promise<LoadedState[]> {
    if (dealIds.length === 0) return [];
    const keyOf = (id: string) => this.keys.dealState(portalId, id);
    // Buffers: a state is stored deflated (deal-state-codec.ts), which is not UTF-8.
    const replies = await getBuffers(this.redis, dealIds.map(keyOf));
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
      [this.keys.dealState(portalId, dealId), this.keys.trackedDeals(portalId)],
      [expectedVersion, body, TOMBSTONE_TTL_MS, dealId],
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

/**
 * GETs as pipeline.exec() answers them ([error, value] per key). One key (a single move reads one deal) is read
 * with a plain command: no pipeline object to build.
 */
async function getBuffers(redis: Redis, keys: string[]): Promise<[Error | null, unknown][]> {
  if (keys.length === 1)
    return redis.getBuffer(keys[0]!).then(
      (value): [Error | null, unknown][] => [[null, value]],
      (err: unknown): [Error | null, unknown][] => [
        [err instanceof Error ? err : new Error(String(err)), null],
      ],
    );
  const pipeline = redis.pipeline();
  for (const key of keys) pipeline.getBuffer(key);
  return ((await pipeline.exec()) ?? []) as [Error | null, unknown][];
}
