import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { RECORD_VERSION_DIGITS } from './deal-state-codec';
import type { Keys } from './keys';
import { luaScript } from './lua';

/**
 * Takes the lock if free and, in the same round trip, reads the deal state's version: every holder needs to know
 * whether the deal was saved since it read it. -1: held by someone else; 0: no (readable) state. The version is
 * read as the state store's save script reads it (a `<version>:` string, or `v` of the older hash shape).
 */
const acquireScript = luaScript(`
if not redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then return -1 end
local head = redis.pcall('GETRANGE', KEYS[2], 0, ${RECORD_VERSION_DIGITS})
if type(head) == 'string' then return tonumber(string.match(head, '^(%d+):') or '0') end
local v = tonumber(redis.pcall('HGET', KEYS[2], 'v')) or 0
if v < 0 or v ~= math.floor(v) then return 0 end
return v
`);

const extendScript = luaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`);

const releaseScript = luaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

/** The deal is being decided by another job for longer than this one may wait; BullMQ retries the job. */
export class DealBusyError extends Error {
  constructor(
    readonly portalId: string,
    readonly dealId: string,
  ) {
    super(`deal ${dealId} (portal ${portalId}) is being decided by another job`);
    this.name = 'DealBusyError';
  }
}

/**
 * One job at a time per deal, across queues and processes. A reconcile and a timer firing of the same deal run on
 * different queues; deciding at once, both could create the same task: the second sees the first's write-ahead
 * marker, finds no task yet (the create is still in flight) and creates it again. The optimistic state save
 * alone cannot prevent that, because HubSpot writes happen before the save. A live holder keeps the lock alive;
 * it expires on its own (`ttlMs`) once the holder is gone, so a process that dies holding it delays the deal
 * (by up to `ttlMs`), never wedges it.
 */
export class DealLock {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly opts: { ttlMs?: number; waitMs?: number; pollMs?: number } = {},
  ) {}

  /** Runs `fn` holding the deal's lock; `fn` is given the deal state's version as the lock was taken. */
  async withLock<T>(portalId: string, dealId: string, fn: (stateVersion: number) => Promise<T>): Promise<T> {
    const key = this.keys.dealLock(portalId, dealId);
    const stateKey = this.keys.dealState(portalId, dealId);
    const token = randomBytes(8).toString('hex');
    const ttl = this.opts.ttlMs ?? 30_000;
    const until = Date.now() + (this.opts.waitMs ?? 10_000);
    let version: number;
    while ((version = Number(await acquireScript(this.redis, [key, stateKey], [token, ttl]))) < 0) {
      if (Date.now() > until) throw new DealBusyError(portalId, dealId);
      await new Promise((r) => setTimeout(r, this.opts.pollMs ?? 25));
    }
    // Kept alive while the job runs (HubSpot back-off under a 429 storm can outlast the TTL): a lock expiring
    // under a live holder would let a second job decide the deal at the same time.
    const heartbeat = setInterval(
      () => void extendScript(this.redis, [key], [token, ttl]).catch(() => undefined),
      ttl / 3,
    );
    heartbeat.unref();
    try {
      return await fn(version);
    } finally {
      clearInterval(heartbeat);
      await this.release(key, token);
    }
  }

  /**
   * A release that fails (Redis restarting) is tried again in the background for a while: a lock left to its TTL
   * would hold the deal's next jobs, retries of this one included, for minutes.
   */
  private async release(key: string, token: string): Promise<void> {
    const give = () => releaseScript(this.redis, [key], [token]);
    try {
      await give();
    } catch {
      void (async () => {
        for (let i = 0; i < 60; i++) {
          await new Promise((r) => setTimeout(r, 500).unref());
          if (
            await give().then(
              () => true,
              () => false,
            )
          )
            return;
        }
      })();
    }
  }
}
