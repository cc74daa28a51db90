import type { Redis } from 'ioredis';
import { z } from 'zod';
import {
  ASSUME_OPEN,
  createDecider,
  firstReadProperties,
  needsClosing,
  type DealOutcome,
  type DecideDeps,
} from '../decide';
import { mergedIdsOf, type DealSnapshot } from '@stagekeeper/shared';
import { errorSummary, portalLogger } from '../log';
import { assertKeyPart, type Keys } from '../state/keys';
import { luaScript } from '../state/lua';
import { FORWARD_LUA, LAST_WEBHOOK_FIELD } from '../state/portal-activity-store';
import type { ReplayClaim } from '../http/replay-store';
import { HubSpotIdString } from './job-ids';
import { dueCounts, isLease } from './due-poller';
import type { LegacyJobs } from './legacy-jobs';

/** HubSpot batch reads take at most 100 ids. */
const SNAPSHOT_BATCH = 100;

/** The payload of a BullMQ reconcile job, as versions before the due set wrote them (legacy-reconcile-jobs.ts). */
export const ReconcileJobData = z.object({
  portalId: HubSpotIdString,
  dealId: HubSpotIdString,
  source: z.enum(['webhook', 'sweep', 'manual']),
});
export type ReconcileJobData = z.infer<typeof ReconcileJobData>;

export type EnqueueResult = { added: number; coalesced: number };

/**
 * A webhook delivery's hand-off (`enqueueDelivery`). KEYS: the due set, the claim when ARGV[1] (its TTL) is not
 * '0', then each portal's activity hash. ARGV: the claim's TTL, the delivery's time ('' for none), then the due
 * set's score-member pairs. -1 and nothing written when the claim is taken already; else the members added.
 */
const deliveryScript = luaScript(`${FORWARD_LUA}
local first = 2
if ARGV[1] ~= '0' then
  if not redis.call('SET', KEYS[2], '1', 'PX', ARGV[1], 'NX') then return -1 end
  first = 3
end
local added = redis.call('ZADD', KEYS[1], 'LT', unpack(ARGV, 3))
if ARGV[2] ~= '' then
  for i = first, #KEYS do forward(KEYS[i], '${LAST_WEBHOOK_FIELD}', ARGV[2]) end
end
return added`);

/**
 * When a request made at `now` is due: the first whole multiple of the debounce window at least one window away
 * (so between one and two windows). Deals changed within one window fall due at the same instant, are claimed in
 * one page and share their HubSpot batch calls: under steady traffic (20 moves a second, one webhook each) that
 * took HubSpot calls per move from 1.44 to 0.81 and Redis round trips from 10.4 to 7.3 (test/bench/cost.ts),
 * for 125 ms more latency on average. A window of 0 means at once.
 */
export function reconcileDueAt(now: number, debounceMs: number): number {
  // Whole milliseconds: a score with a fraction is a lease.
  const t = Math.ceil(now);
  return debounceMs > 0 ? Math.ceil((t + debounceMs) / debounceMs) * debounceMs : t;
}

/** A due-set member: portal ids never hold "|" (keys.ts). */
export const reconcileMember = (portalId: string, dealId: string) =>
  `${assertKeyPart('portalId', portalId)}|${assertKeyPart('dealId', dealId)}`;

/** Portal and deal of a member; undefined for a member that is not one. */
export function splitReconcileMember(member: string): { portalId: string; dealId: string } | undefined {
  const at = member.indexOf('|');
  const portalId = member.slice(0, at);
  const dealId = member.slice(at + 1);
  return at > 0 && /^\d+$/.test(portalId) && /^\d+$/.test(dealId) ? { portalId, dealId } : undefined;
}

/** A reconcile run given up (kept in the reconcileFailed list for operators). */
export const ReconcileGiveUp = z.object({
  portalId: z.string(),
  dealId: z.string(),
  at: z.number(),
  attempts: z.number(),
  why: z.string(),
});
export type ReconcileGiveUp = z.infer<typeof ReconcileGiveUp>;

/** Give-ups kept for operators, newest first (BullMQ kept the last 10,000 failed reconcile jobs). */
const GIVE_UPS_KEPT = 10_000;

/**
 * "Deal X changed" requests, coalesced per deal, in one due set for every portal (keys.reconcileDue, member
 * `portal|deal`, score when the run is due), claimed and run by queue/reconcile-poller.ts. One `ZADD ... LT`
 * per request (any number of deals):
 * - the first request adds the member, due after the debounce window (on the window's grid, `reconcileDueAt`);
 * - requests while it waits are absorbed (LT keeps the earlier due time), so a burst is one run;
 * - a request while the run is in flight replaces that run's lease (a time 30 s ahead) with a due time, so the
 *   poller runs the deal exactly once more when the run ends, and the run's ack leaves the member in place
 *   (due-poller.ts); in one process the two never overlap, across processes the deal lock orders them;
 * - a request while a failed run waits out its backoff brings the retry forward (its attempts are kept).
 * Not BullMQ jobs (as it was): a lone request's job lifecycle cost ~80 Redis commands inside BullMQ's scripts
 * (add, promote, take, finish, the worker's empty fetches); a member costs one command to add and its share of
 * a claim and an ack (docs/architecture.md has the figures). Jobs an older version left still run
 * (queue/legacy-reconcile-jobs.ts).
 */
export class ReconcileQueue {
  /** For the queue-depth gauge (metrics.ts). */
  readonly name = 'reconcile';
  private readonly due: string;
  private readonly failed: string;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly debounceMs: number,
    /** The wall clock (or a test's): never the playbook clock, which a demo or test may hold still. */
    private readonly clock: () => number = Date.now,
    /** Told when a request is due, so this process's poller looks then rather than at its next poll. */
    private readonly onDue?: (at: number) => void,
    /** BullMQ reconcile jobs left by an older version, counted while there are any. */
    private readonly legacy?: Pick<LegacyJobs, 'present' | 'queue'>,
  ) {
    this.due = keys.reconcileDue();
    this.failed = keys.reconcileFailed();
  }

  /**
   * Resolves once Redis holds the requests. `source` is not stored: a run reads the deal afresh whatever asked
   * for it.
   */
  async enqueue(
    portalId: string,
    dealIds: Iterable<string>,
    _source: 'webhook' | 'sweep' | 'manual',
  ): Promise<EnqueueResult> {
    const { at, pairs, count } = this.duePairs([{ portalId, dealIds }]);
    if (count === 0) return { added: 0, coalesced: 0 };
    const added = Number(await this.redis.zadd(this.due, 'LT', ...pairs));
    this.onDue?.(at);
    return { added, coalesced: count - added };
  }

  /** When requests made now fall due, and `ZADD`'s score-member pairs for the distinct deals named. */
  private duePairs(portals: { portalId: string; dealIds: Iterable<string> }[]) {
    const at = reconcileDueAt(this.clock(), this.debounceMs);
    const members = new Set<string>();
    for (const { portalId, dealIds } of portals)
      for (const dealId of dealIds) members.add(reconcileMember(portalId, dealId));
    const pairs: (string | number)[] = [];
    for (const m of members) pairs.push(at, m);
    return { at, pairs, count: members.size };
  }

  /**
   * A webhook delivery's requests (queue/ingest.ts InlineFanOut) in one round trip: added only if the
   * delivery's signature `claim` is new (http/replay-store.ts; 'replayed', and nothing written, when it is not),
   * with each portal's last webhook moved forward to `receivedAt` (state/portal-activity-store.ts). Each was a
   * round trip of its own before, every one a socket write and a wake of the webhook's thread: one script for the
   * three took a move's round trips under steady traffic (test/bench/cost.ts) from 7.3 to 5.2.
   */
  async enqueueDelivery(
    portals: { portalId: string; dealIds: string[] }[],
    opts: { claim?: ReplayClaim; receivedAt?: number } = {},
  ): Promise<EnqueueResult | 'replayed'> {
    const { at, pairs, count } = this.duePairs(portals);
    if (count === 0) return { added: 0, coalesced: 0 };
    const activity = opts.receivedAt === undefined ? [] : [...new Set(portals.map((p) => p.portalId))];
    const added = Number(
      await deliveryScript(
        this.redis,
        [
          this.due,
          ...(opts.claim ? [opts.claim.key] : []),
          ...activity.map((p) => this.keys.portalActivity(p)),
        ],
        [
          opts.claim ? opts.claim.ttlMs : '0',
          opts.receivedAt === undefined ? '' : Math.floor(opts.receivedAt),
          ...pairs,
        ],
      ),
    );
    if (added < 0) return 'replayed';
    this.onDue?.(at);
    return { added, coalesced: count - added };
  }

  /** Requests due now and not claimed (waiting), and the rest (delayed: later, retrying, or running). */
  counts(now = this.clock()): Promise<{ waiting: number; delayed: number }> {
    return dueCounts(this.redis, this.due, now);
  }

  /** The queue-depth gauge's view: the due set's counts and the give-ups, plus the legacy queue's while it has jobs. */
  async getJobCounts(): Promise<Record<string, number>> {
    const [c, failed] = await Promise.all([this.counts(), this.redis.llen(this.failed)]);
    const own: Record<string, number> = { ...c, failed };
    if (!this.legacy?.present) return own;
    const old = await this.legacy.queue.getJobCounts('waiting', 'delayed', 'active', 'failed');
    for (const [state, n] of Object.entries(old)) own[state] = (own[state] ?? 0) + n;
    return own;
  }

  /** The deal's pending request, if any: when it is due (or its lease ends, while a run holds it). */
  async pending(portalId: string, dealId: string): Promise<{ dueAt: number; leased: boolean } | undefined> {
    const s = await this.redis.zscore(this.due, reconcileMember(portalId, dealId));
    return s === null ? undefined : { dueAt: Number(s), leased: isLease(Number(s)) };
  }

  /** Every pending request (tests, diagnostics; a full read, not for the request path). */
  async list(): Promise<{ portalId: string; dealId: string; dueAt: number; leased: boolean }[]> {
    const flat = await this.redis.zrange(this.due, 0, -1, 'WITHSCORES');
    const out: { portalId: string; dealId: string; dueAt: number; leased: boolean }[] = [];
    for (let i = 0; i < flat.length; i += 2) {
      const ids = splitReconcileMember(flat[i]!);
      const s = Number(flat[i + 1]);
      if (ids) out.push({ ...ids, dueAt: s, leased: isLease(s) });
    }
    return out;
  }

  /** Records a run given up, where operators look (the list, and the queue-depth gauge's `failed`). */
  async recordGiveUp(g: ReconcileGiveUp): Promise<void> {
    await this.redis
      .multi()
      .lpush(this.failed, JSON.stringify(g))
      .ltrim(this.failed, 0, GIVE_UPS_KEPT - 1)
      .exec();
  }

  /** The newest give-ups, newest first. */
  async giveUps(count = 100): Promise<ReconcileGiveUp[]> {
    const raw = await this.redis.lrange(this.failed, 0, count - 1);
    return raw.flatMap((r) => {
      try {
        const p = ReconcileGiveUp.safeParse(JSON.parse(r));
        return p.success ? [p.data] : [];
      } catch {
        return [];
      }
    });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

export class DealProcessingError extends Error {
  constructor(
    readonly portalId: string,
    readonly failures: { dealId: string; error: unknown }[],
  ) {
    super(
      `${failures.length} deal(s) failed in portal ${portalId}: ${failures.map((f) => f.dealId).join(', ')}`,
    );
    this.name = 'DealProcessingError';
  }
}

/**
 * What a reconcile run does: each deal read (states and snapshots in batches) and brought to the decision
 * `engine.reconcile` makes on what HubSpot has now. One failing deal does not hold up the others; the run then
 * fails with every deal's error (DealProcessingError) so the run is retried.
 */
export async function reconcileDeals(
  deps: DecideDeps,
  portalId: string,
  dealIds: string[],
): Promise<Map<string, DealOutcome>> {
  const decider = createDecider(deps);
  const log = portalLogger(deps.log, portalId);
  const outcomes = new Map<string, DealOutcome>();
  const unique = [...new Set(dealIds)];
  const playbook = await decider.playbookInForce(portalId, 'reconcile', log, { deals: unique.length });
  if (!playbook) {
    for (const id of unique) outcomes.set(id, 'no_playbook');
    return outcomes;
  }
  const firstRead = firstReadProperties(deps.engine.requiredProperties(playbook));
  const failures: { dealId: string; error: unknown }[] = [];
  const merged = new Set<string>();

  async function settleAll(ids: string[], onSettled: (snapshot?: DealSnapshot) => void) {
    for (let i = 0; i < ids.length; i += SNAPSHOT_BATCH) {
      const batch = ids.slice(i, i + SNAPSHOT_BATCH);
      const [states, snapshots] = await Promise.all([
        deps.states.loadMany(portalId, batch),
        deps.gateway.snapshots(portalId, batch, firstRead, ASSUME_OPEN),
      ]);
      for (const [j, dealId] of batch.entries()) {
        try {
          const { outcome } = await decider.settle(
            portalId,
            playbook!,
            dealId,
            { ...states[j]!, snapshot: snapshots.get(dealId) },
            (pb, state, snapshot, now, routing) =>
              deps.engine.reconcile({ playbook: pb, state, snapshot, now, routing }),
            log,
          );
          outcomes.set(dealId, outcome);
          onSettled(snapshots.get(dealId));
        } catch (error) {
          // One bad deal must not hold up the rest of the batch; the run still fails so it is retried.
          failures.push({ dealId, error });
          log.error({ dealId, err: errorSummary(error) }, 'reconcile failed for deal');
        }
      }
    }
  }

  await settleAll(unique, (snapshot) => mergedIdsOf(snapshot).forEach((id) => merged.add(id)));
  // Deals merged into these whose merge was never processed (a lost webhook, or state lost with Redis's data)
  // are reconciled here: their gone path closes the tasks the merge moved onto the survivor.
  const candidates = [...merged].filter((id) => !outcomes.has(id));
  if (candidates.length > 0) {
    const loaded = await deps.states.loadMany(portalId, candidates);
    const open = candidates.filter((_, i) => needsClosing(loaded[i]!));
    if (open.length > 0) {
      log.info({ dealIds: open }, 'merged-away deal(s) not closed yet; reconciling them with the survivor');
      await settleAll(open, () => undefined);
    }
  }
  if (failures.length > 0) throw new DealProcessingError(portalId, failures);
  return outcomes;
}
