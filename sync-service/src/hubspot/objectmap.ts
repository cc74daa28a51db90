import type { Redis } from 'ioredis';
import { redisKeys } from '../state/keys';
import { luaScript } from '../state/lua';

/**
 * Which HubSpot object Stagekeeper created for each engine key, per deal: the idempotency record behind
 * "a retried command never creates a second task". A Redis hash per deal, field = engine key.
 *
 * Values: `pending:<ms>` is written before the create request goes out (write-ahead), so a crash between
 * HubSpot creating the object and us recording its id is detectable; `<id>` once known; `<id>:closed` once
 * Stagekeeper completed or cancelled it, `<id>:done` once a rep completed it (closed tasks need no status read on
 * every reconcile; who closed it decides what a reopen means, see `noticeReopened` in gateway/task-statuses.ts).
 */

export type ClosedBy = 'stagekeeper' | 'rep';
export type MapEntry =
  { state: 'pending'; since: number } | { state: 'mapped'; id: string; closed: boolean; closedBy?: ClosedBy };

export type ObjectKind = 'taskmap' | 'notemap';

/**
 * A deal's map as read once, kept equal to Redis by the writes it is given: a decision's apply reads the task map
 * once and passes it along (it was read three times per move). Updated only after the write succeeded.
 */
export type MapMirror = Map<string, MapEntry>;

function mirrorSet(mirror: MapMirror | undefined, key: string, raw: string): void {
  if (!mirror) return;
  const e = parse(raw);
  if (e) mirror.set(key, e);
  else mirror.delete(key);
}

/** HSETNX of ARGV[1] for every field in ARGV[2..]. */
const setMissing = luaScript(`
for i = 2, #ARGV do redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[1]) end
return 0
`);

function parse(raw: string): MapEntry | undefined {
  if (raw.startsWith('pending:')) return { state: 'pending', since: Number(raw.slice(8)) || 0 };
  const [id, flag] = raw.split(':');
  if (!id || !/^\d+$/.test(id)) return undefined;
  if (flag === 'closed') return { state: 'mapped', id, closed: true, closedBy: 'stagekeeper' };
  if (flag === 'done') return { state: 'mapped', id, closed: true, closedBy: 'rep' };
  return { state: 'mapped', id, closed: false };
}

export class ObjectMap {
  private readonly keyOf: (portalId: string, dealId: string) => string;

  constructor(
    private readonly redis: Redis,
    prefix: string,
    kind: ObjectKind,
  ) {
    const keys = redisKeys(prefix);
    this.keyOf = kind === 'taskmap' ? keys.taskMap : keys.noteMap;
  }

  key(portalId: string, dealId: string): string {
    return this.keyOf(portalId, dealId);
  }

  async get(portalId: string, dealId: string): Promise<Map<string, MapEntry>> {
    return this.toMap(await this.redis.hgetall(this.key(portalId, dealId)));
  }

  async getMany(portalId: string, dealIds: string[]): Promise<Map<string, Map<string, MapEntry>>> {
    const out = new Map<string, Map<string, MapEntry>>();
    if (dealIds.length === 0) return out;
    // One deal (a single move) with a plain HGETALL: no pipeline object to build (the connection batches
    // commands of one tick anyway, APP_REDIS_OPTIONS).
    if (dealIds.length === 1) {
      out.set(dealIds[0]!, await this.get(portalId, dealIds[0]!));
      return out;
    }
    const pipe = this.redis.pipeline();
    dealIds.forEach((d) => pipe.hgetall(this.key(portalId, d)));
    const res = (await pipe.exec()) ?? [];
    dealIds.forEach((d, i) => {
      const [err, raw] = res[i] ?? [null, {}];
      if (err) throw err;
      out.set(d, this.toMap(raw as Record<string, string>));
    });
    return out;
  }

  /** Write-ahead; never overwrites a known id. One command however many keys (HSETNX takes one field). */
  async markPending(
    portalId: string,
    dealId: string,
    keys: string[],
    now: number,
    mirror?: MapMirror,
  ): Promise<void> {
    if (keys.length === 0) return;
    await setMissing(this.redis, [this.key(portalId, dealId)], [`pending:${now}`, ...keys]);
    for (const key of keys) if (!mirror?.has(key)) mirrorSet(mirror, key, `pending:${now}`);
  }

  async setIds(
    portalId: string,
    dealId: string,
    ids: Map<string, string>,
    mirror?: MapMirror,
  ): Promise<void> {
    if (ids.size === 0) return;
    await this.redis.hset(this.key(portalId, dealId), Object.fromEntries(ids));
    for (const [key, id] of ids) mirrorSet(mirror, key, id);
  }

  async markClosed(
    portalId: string,
    dealId: string,
    ids: Map<string, string>,
    by: ClosedBy = 'stagekeeper',
    mirror?: MapMirror,
  ): Promise<void> {
    if (ids.size === 0) return;
    const values = [...ids].map(([key, id]) => [key, `${id}:${by === 'rep' ? 'done' : 'closed'}`] as const);
    await this.redis.hset(this.key(portalId, dealId), Object.fromEntries(values));
    for (const [key, raw] of values) mirrorSet(mirror, key, raw);
  }

  async remove(portalId: string, dealId: string, keys: string[], mirror?: MapMirror): Promise<void> {
    if (keys.length === 0) return;
    await this.redis.hdel(this.key(portalId, dealId), ...keys);
    for (const key of keys) mirror?.delete(key);
  }

  private toMap(raw: Record<string, string>): Map<string, MapEntry> {
    const m = new Map<string, MapEntry>();
    for (const [field, value] of Object.entries(raw)) {
      const e = parse(value);
      if (e) m.set(field, e);
    }
    return m;
  }
}
