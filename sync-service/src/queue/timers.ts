import { dealIdOfEntry, firingOfTimerId, TimerFiring, type Command } from '@stagekeeper/shared';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { createDecider, type DealOutcome, type DecideDeps } from '../decide';
import { portalLogger } from '../log';
import { slaBreaches, slaEscalations, slaWarnings } from '../metrics';
import { assertKeyPart, type Keys } from '../state/keys';
import { luaScript } from '../state/lua';
import { dueCounts, isLease } from './due-poller';
import { HubSpotIdString } from './job-ids';
import type { LegacyTimerJobs } from './legacy-timer-jobs';

export { isLease };

/**
 * What a pending timer stores besides its member and score, in the timersMeta hash and only when there is
 * something to store: d deal, k kind, e entry id and l level when they cannot be derived from the timer id
 * (shared `firingOfTimerId`, `dealIdOfEntry`: every timer the engine arms today derives them, but a timer id
 * it does not spell must still fire as asked); a the failed attempts of a firing being retried.
 */
export const TimerMeta = z.object({
  d: HubSpotIdString.optional(),
  k: TimerFiring.shape.kind.optional(),
  e: z.string().optional(),
  l: z.number().int().optional(),
  a: z.number().int().nonnegative().optional(),
});
export type TimerMeta = z.infer<typeof TimerMeta>;

/** A timer as the firing needs it. */
export type TimerTarget = { portalId: string; dealId: string; firing: TimerFiring };

const sameFiring = (a: TimerFiring | undefined, b: TimerFiring) =>
  !!a && a.timerId === b.timerId && a.kind === b.kind && a.entryId === b.entryId && a.level === b.level;

/** Only what cannot be derived from the timer id: `{}` for every timer the engine arms. */
export function timerExtra(dealId: string, firing: TimerFiring): Omit<TimerMeta, 'a'> {
  const explicit = sameFiring(firingOfTimerId(firing.timerId), firing)
    ? {}
    : { k: firing.kind, e: firing.entryId, ...(firing.level !== undefined ? { l: firing.level } : {}) };
  return { ...(dealIdOfEntry(firing.entryId) === dealId ? {} : { d: dealId }), ...explicit };
}

/** The deal and firing of a timer id plus what `timerExtra` kept; undefined when they cannot be derived. */
export function firingOf(
  timerId: string,
  extra: Omit<TimerMeta, 'a'>,
): { dealId: string; firing: TimerFiring } | undefined {
  const firing: TimerFiring | undefined =
    extra.k !== undefined
      ? {
          timerId,
          kind: extra.k,
          entryId: extra.e ?? '',
          ...(extra.l !== undefined ? { level: extra.l } : {}),
        }
      : firingOfTimerId(timerId);
  const dealId = extra.d ?? (firing ? dealIdOfEntry(firing.entryId) : '');
  if (!firing || !firing.entryId || !/^\d+$/.test(dealId)) return undefined;
  return { dealId, firing };
}

/** The index member of a timer: portal ids never hold "|" (keys.ts), so the first one splits it back. */
export const timerMember = (portalId: string, timerId: string) =>
  `${assertKeyPart('portalId', portalId)}|${timerId}`;

/** Portal and timer id of a member; undefined for a member that is not one. */
export function splitMember(member: string): { portalId: string; timerId: string } | undefined {
  const at = member.indexOf('|');
  if (at <= 0 || at === member.length - 1) return undefined;
  return { portalId: member.slice(0, at), timerId: member.slice(at + 1) };
}

/** A member and its stored meta (JSON or null) read back as a timer; undefined when it cannot be. */
export function decodeTimer(
  member: string,
  meta: string | null | undefined,
): (TimerTarget & { attempts: number }) | undefined {
  const ids = splitMember(member);
  if (!ids) return undefined;
  let parsed: TimerMeta = {};
  if (meta) {
    try {
      const r = TimerMeta.safeParse(JSON.parse(meta));
      if (!r.success) return undefined;
      parsed = r.data;
    } catch {
      return undefined;
    }
  }
  const derived = firingOf(ids.timerId, parsed);
  return derived && { portalId: ids.portalId, ...derived, attempts: parsed.a ?? 0 };
}

/** A pending timer as tests, the chaos verifier and operators see it. */
export type PendingTimer = TimerTarget & {
  fireAt: number;
  /** Claimed by a process firing it now (its score is that process's lease, not the fire time). */
  leased?: boolean;
  /** Still a BullMQ job armed before the index (queue/legacy-timer-jobs.ts). */
  legacyJobId?: string;
};

type ScheduleTimer = Extract<Command, { type: 'scheduleTimer' }>;
export type TimerCommand = Extract<Command, { type: 'scheduleTimer' | 'cancelTimer' }>;

/**
 * One decision's timer commands, atomically: ZADD of the scheduled (score = fire time), ZREM of the cancelled;
 * the meta hash is touched only when a timer needs meta or the hash exists at all (a rescheduled or cancelled
 * timer's meta, attempts included, goes with it).
 * KEYS: due, meta. ARGV: n, then n triples (fireAt, member, meta JSON or ''), then the members to remove.
 */
const applyScript = luaScript(`
local n = tonumber(ARGV[1])
local add, withMeta, plain, rem = {}, {}, {}, {}
for i = 0, n - 1 do
  local member, meta = ARGV[3 + 3 * i], ARGV[4 + 3 * i]
  add[#add + 1] = ARGV[2 + 3 * i]
  add[#add + 1] = member
  if meta ~= '' then
    withMeta[#withMeta + 1] = member
    withMeta[#withMeta + 1] = meta
  else
    plain[#plain + 1] = member
  end
end
for i = 2 + 3 * n, #ARGV do
  rem[#rem + 1] = ARGV[i]
  plain[#plain + 1] = ARGV[i]
end
if #add > 0 then redis.call('ZADD', KEYS[1], unpack(add)) end
if #rem > 0 then redis.call('ZREM', KEYS[1], unpack(rem)) end
if #plain > 0 and redis.call('EXISTS', KEYS[2]) == 1 then redis.call('HDEL', KEYS[2], unpack(plain)) end
if #withMeta > 0 then redis.call('HSET', KEYS[2], unpack(withMeta)) end
return #add / 2
`);

/**
 * SLA warning / breach / escalation timers: one sorted set for every portal (member `portal|timer id`, score the
 * fire time), claimed and fired by queue/timer-poller.ts. A firing only tells the deal "look now": the engine
 * re-checks that the stage entry and level are still current. Not BullMQ (as it was): a delayed job cost ~930 B
 * of Redis and BullMQ's scripts ~40 commands per add or remove; a member costs ~100 B and one command
 * (docs/architecture.md has the figures). Timers armed as BullMQ jobs before still fire and are still cancelled
 * (`legacy`).
 */
export class TimerQueue {
  /** For the queue-depth gauge (metrics.ts). */
  readonly name = 'timers';
  private readonly due: string;
  private readonly meta: string;

  constructor(
    private readonly redis: Redis,
    keys: Keys,
    private readonly clock: () => number = Date.now,
    /** BullMQ timer jobs armed before the index; absent where none can exist (tests, benchmarks). */
    readonly legacy?: LegacyTimerJobs,
  ) {
    this.due = keys.timersDue();
    this.meta = keys.timersMeta();
  }

  async schedule(portalId: string, dealId: string, cmd: ScheduleTimer): Promise<{ member: string }> {
    await this.apply(portalId, dealId, [cmd]);
    return { member: timerMember(portalId, cmd.timerId) };
  }

  async cancel(portalId: string, timerId: string): Promise<void> {
    await this.apply(portalId, '', [{ type: 'cancelTimer', timerId }]);
  }

  /**
   * One decision's timer commands in one script call: per timer id only its last command counts (a cancel
   * followed by a schedule of the same timer is one replacement). A timer being fired right now is replaced or
   * removed like any other; its firing then leaves it alone (timer-poller.ts). Returns the members scheduled.
   */
  async apply(portalId: string, dealId: string, commands: TimerCommand[]): Promise<string[]> {
    const last = new Map<string, TimerCommand>();
    for (const c of commands) {
      last.delete(c.timerId);
      last.set(c.timerId, c);
    }
    if (last.size === 0) return [];
    const added: (string | number)[] = [];
    const removed: string[] = [];
    const members: string[] = [];
    for (const cmd of last.values()) {
      const member = timerMember(portalId, cmd.timerId);
      if (cmd.type === 'cancelTimer') {
        removed.push(member);
        continue;
      }
      const firing: TimerFiring = {
        timerId: cmd.timerId,
        kind: cmd.kind,
        entryId: cmd.entryId,
        ...(cmd.level !== undefined ? { level: cmd.level } : {}),
      };
      const extra = timerExtra(dealId, firing);
      // Whole milliseconds: a score with a fraction is a lease.
      added.push(Math.round(cmd.fireAt), member, Object.keys(extra).length > 0 ? JSON.stringify(extra) : '');
      members.push(member);
    }
    // Armed by an older version of the service (or one still running during a rolling deploy): removed too, so a
    // reschedule or cancel reaches it. Costs nothing once no such job is left.
    if (this.legacy?.present) await this.legacy.remove(portalId, [...last.keys()]);
    await applyScript(this.redis, [this.due, this.meta], [members.length, ...added, ...removed]);
    return members;
  }

  /** The pending timer with this id, if any (the index first, then a legacy job); tests and diagnostics. */
  async pending(portalId: string, timerId: string): Promise<PendingTimer | undefined> {
    const member = timerMember(portalId, timerId);
    const [score, meta] = await Promise.all([
      this.redis.zscore(this.due, member),
      this.redis.hget(this.meta, member),
    ]);
    if (score !== null) {
      const t = decodeTimer(member, meta);
      if (t) return { ...withoutAttempts(t), fireAt: Number(score), ...leasedFlag(Number(score)) };
    }
    return this.legacy?.pending(portalId, timerId);
  }

  /** Every pending timer (the chaos verifier; a full read, not for the request path). */
  async list(): Promise<PendingTimer[]> {
    const [flat, metas] = await Promise.all([
      this.redis.zrange(this.due, 0, -1, 'WITHSCORES'),
      this.redis.hgetall(this.meta),
    ]);
    const out: PendingTimer[] = [];
    for (let i = 0; i < flat.length; i += 2) {
      const t = decodeTimer(flat[i]!, metas[flat[i]!]);
      const score = Number(flat[i + 1]);
      if (t) out.push({ ...withoutAttempts(t), fireAt: score, ...leasedFlag(score) });
    }
    return [...out, ...((await this.legacy?.list()) ?? [])];
  }

  /** Timers due now and not claimed (waiting), and the rest (delayed: later, or being fired under a lease). */
  counts(now = this.clock()): Promise<{ waiting: number; delayed: number }> {
    return dueCounts(this.redis, this.due, now);
  }

  /** The queue-depth gauge's view: the index's counts, plus the legacy queue's while it holds jobs. */
  async getJobCounts(): Promise<Record<string, number>> {
    const own: Record<string, number> = await this.counts();
    if (!this.legacy?.present) return own;
    const old = await this.legacy.queue.getJobCounts('waiting', 'delayed', 'active', 'failed');
    for (const [state, n] of Object.entries(old)) own[state] = (own[state] ?? 0) + n;
    return own;
  }

  close(): Promise<void> {
    return this.legacy?.close() ?? Promise.resolve();
  }
}

const withoutAttempts = ({ portalId, dealId, firing }: TimerTarget & { attempts: number }): TimerTarget => ({
  portalId,
  dealId,
  firing,
});
const leasedFlag = (score: number) => (isLease(score) ? { leased: true } : {});

/**
 * A timer fired: a warning, breach or escalation timer of one deal is due, so the deal is brought to the decision
 * `engine.onTimer` makes now (which re-checks that the stage entry and level are still current).
 */
export async function fireTimer(
  deps: DecideDeps,
  portalId: string,
  dealId: string,
  timer: TimerFiring,
): Promise<DealOutcome> {
  const decider = createDecider(deps);
  const log = portalLogger(deps.log, portalId, { dealId, timerId: timer.timerId });
  const playbook = await decider.playbookInForce(portalId, 'timer', log, {});
  if (!playbook) return 'no_playbook';
  const first = await decider.readDeal(portalId, dealId, playbook);
  // Only the first decision is the firing itself; after a conflict the firing may have been handled already,
  // but onTimer re-checks entry and level against the fresh state, so re-asking is safe.
  const { outcome, result } = await decider.settle(
    portalId,
    playbook,
    dealId,
    first,
    (pb, state, snapshot, now, routing) =>
      deps.engine.onTimer({ playbook: pb, state, snapshot, timer, now, routing }),
    log,
  );
  if (result && result.commands.length > 0) countFiring(timer);
  return outcome;
}

/** A firing that led to commands really warned / breached / escalated; a stale one yields none. */
function countFiring(timer: TimerFiring): void {
  if (timer.kind === 'warning') slaWarnings.inc();
  else if (timer.kind === 'breach') slaBreaches.inc();
  else slaEscalations.inc();
}
