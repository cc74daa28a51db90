import {
  dependsOnUnreadTasks,
  MERGED_IDS_PROPERTY,
  needsOwnerLoad,
  onTimer,
  pageResolutions,
  reconcile,
  requiredProperties,
} from '@stagekeeper/shared';
import type {
  Command,
  DealSnapshot,
  DealState,
  EngineResult,
  PageCommand,
  Playbook,
  ReconcileInput,
  ResolvePageCommand,
  RoutingInput,
  TimerInput,
} from '@stagekeeper/shared';
import type { Logger } from './log';
import { parseHubSpotTime } from './hubspot/gateway';
import { adoptedTasks, portalWithoutPlaybook } from './metrics';
import type { HubSpotGateway } from './ports';
import { createSettle } from './settle';
import type { TimerQueue } from './queue/timers';
import type { DealLock } from './state/deal-lock';
import type { DealStateStore } from './state/deal-state-store';
import type { HistoryStore } from './state/history-store';
import type { PlaybookSource } from './state/playbook-store';
import type { RoundRobinStore } from './state/round-robin-store';

/** The pure engine, as a dependency so worker tests can script decisions without the real rules. */
export interface Engine {
  reconcile(input: ReconcileInput): EngineResult;
  onTimer(input: TimerInput): EngineResult;
  requiredProperties(playbook: Playbook): string[];
}

/** The real engine from '@stagekeeper/shared'; typed against `Engine`, so a contract drift fails the build. */
export const sharedEngine: Engine = { reconcile, onTimer, requiredProperties };

/** Task statuses are read only when a decision depends on them (see `decideOn`). */
export const ASSUME_OPEN = { taskStatuses: 'assume-open' } as const;

export type DecideDeps = {
  gateway: HubSpotGateway;
  engine: Engine;
  playbooks: PlaybookSource;
  states: DealStateStore;
  history: HistoryStore;
  timers: Pick<TimerQueue, 'apply'>;
  log: Logger;
  clock?: () => number;
  /** Re-decisions allowed when another worker saved the same deal in between. */
  maxConflictRetries?: number;
  /** Round-robin cursors of the assignment policy; without it every role's cursor reads 0. */
  roundRobin?: Pick<RoundRobinStore, 'cursors' | 'advance'>;
  /** The page queue (notify/); without it escalations are HubSpot tasks only. */
  pages?: { enqueue(portalId: string, dealId: string, cmd: PageCommand | ResolvePageCommand): Promise<void> };
  /**
   * Whether Redis still holds its seed (state/data-loss.ts); asked when a portal's playbook is missing, so a
   * data loss fails the job for a retry after re-seeding instead of enforcing nothing.
   */
  redisIntact?: () => Promise<boolean>;
  /**
   * When this Redis's state began, read from Redis now (a loss another process already repaired moves it);
   * null when the seed marker is missing, i.e. Redis lost its data and is not re-seeded yet. Deals created
   * before it may have Stagekeeper tasks no stored state knows.
   */
  seededAt?: () => Promise<number | null>;
  /** One job at a time per deal across queues and processes (state/deal-lock.ts); none in single-job tests. */
  lock?: Pick<DealLock, 'withLock'>;
};

/** Redis lost its data (the seed marker is gone); the job is retried once the service has re-seeded. */
export class RedisDataLossError extends Error {
  constructor(readonly portalId: string) {
    super(`Redis lost its data; portal ${portalId} waits for the re-seed`);
    this.name = 'RedisDataLossError';
  }
}

/** Read with every first snapshot: whether a deal without state predates this Redis's state (adoption). */
const CREATED = 'createdate';

/**
 * What a job's first snapshot of a deal reads: the playbook's properties, the deal's creation time and the ids
 * merged into it. A merged-away deal is closed by its own reconcile, which only its merge webhook (or a timer of
 * its) triggers; when that webhook is lost and no timer is left, nothing else ever names it (HubSpot lists it no
 * more), so its open tasks would stay open on the survivor: the survivor's reconcile closes it.
 */
export const firstReadProperties = (properties: string[]) => [
  ...new Set([...properties, CREATED, MERGED_IDS_PROPERTY]),
];

/**
 * Whether a merged-away deal still needs its own reconcile: its stored state is not closed, or there is none at
 * all (never reconciled, or lost with Redis's data). A tombstone (version > 0, no state) is a reconcile that
 * already ran.
 */
export function needsClosing(loaded: { state: DealState | null; version: number }): boolean {
  if (loaded.state === null) return loaded.version === 0;
  return loaded.state.closedReason !== 'merged' && loaded.state.closedReason !== 'deleted';
}

export type DealOutcome = 'applied' | 'no_playbook' | 'missing_snapshot' | 'conflict_exhausted';

export type Decide = (
  playbook: Playbook,
  state: DealState | null,
  snapshot: DealSnapshot,
  now: number,
  routing?: RoutingInput,
) => EngineResult;

/**
 * The engine's decision for one deal, run to a saved decision (settle.ts) under the deal's lock: the reads a
 * decision asks for (routing, unread task statuses, the owner's load), the adoption of tasks a lost state left
 * behind, and the playbook in force. The reconcile and timer queues (queue/reconcile.ts, queue/timers.ts) call it.
 */
export function createDecider(deps: DecideDeps) {
  const clock = deps.clock ?? Date.now;
  const maxRetries = deps.maxConflictRetries ?? 5;
  const settle = createSettle(deps);

  /**
   * Decides with the tasks Stagekeeper left open taken as open; only if the decision would change had a rep
   * completed some of them are their statuses read (one HubSpot call) and the decision made again.
   */
  async function decideOn(
    portalId: string,
    playbook: Playbook,
    state: DealState | null,
    snapshot: DealSnapshot,
    decide: Decide,
  ): Promise<EngineResult> {
    const now = clock();
    // Any decision that ends a paged visit resolves its pages, whichever rule ended it.
    const withResolutions = (r: EngineResult): EngineResult => {
      const resolves = pageResolutions(state, r.state);
      return resolves.length > 0 ? { ...r, commands: [...r.commands, ...resolves] } : r;
    };
    // Routing input is read only for playbooks that route work; the open-task counts only when a decision asks.
    let routing: RoutingInput | undefined =
      playbook.assignment && deps.roundRobin
        ? { cursors: await deps.roundRobin.cursors(portalId) }
        : undefined;
    let result = decide(playbook, state, snapshot, now, routing);
    const wanted = result.needsOpenTasksOf ?? [];
    if (wanted.length > 0 && deps.gateway.openTaskCounts) {
      routing = { ...routing, openTasks: await deps.gateway.openTaskCounts(portalId, wanted) };
      result = decide(playbook, state, snapshot, now, routing);
    }
    if (dependsOnUnreadTasks((s) => decide(playbook, state, s, now, routing), snapshot, result)) {
      snapshot = await deps.gateway.readUnreadTasks(portalId, snapshot);
      result = decide(playbook, state, snapshot, now, routing);
    }
    // Capacity evidence: the owner's open-task load, read from HubSpot only when a breach reason is being inferred.
    if (deps.gateway.ownerOpenTasks && needsOwnerLoad(snapshot, result)) {
      // Evidence, not a precondition: a breach is not held up when the load cannot be read (capacity stays unknown).
      const load = await deps.gateway.ownerOpenTasks(portalId, snapshot.ownerId!).catch((err: unknown) => {
        deps.log.warn(
          { portalId, dealId: snapshot.dealId, err: err instanceof Error ? err.message : String(err) },
          'owner open-task load not read',
        );
        return undefined;
      });
      if (load !== undefined)
        result = decide(playbook, state, { ...snapshot, ownerOpenTasks: load }, now, routing);
    }
    return withResolutions(result);
  }

  /** The deal as HubSpot has it now, task statuses taken as open (`decideOn` reads them when they matter). */
  async function readSnapshot(portalId: string, dealId: string, playbook: Playbook) {
    const properties = deps.engine.requiredProperties(playbook);
    return (await deps.gateway.snapshots(portalId, [dealId], properties, ASSUME_OPEN)).get(dealId);
  }

  /** The deal's stored state and its snapshot, read together. */
  async function readDeal(portalId: string, dealId: string, playbook: Playbook) {
    const [loaded, snapshot] = await Promise.all([
      deps.states.load(portalId, dealId),
      readSnapshot(portalId, dealId, playbook),
    ]);
    return { ...loaded, snapshot };
  }

  /** settleDeal under the deal's lock: the snapshot read before the lock is read again inside it. */
  async function settleLocked(...args: Parameters<typeof settleDeal>): ReturnType<typeof settleDeal> {
    if (!deps.lock) return settleDeal(...args);
    const [portalId, playbook, dealId, first, decide, log] = args;
    return deps.lock.withLock(portalId, dealId, async (version) => {
      // Another job may have decided the deal while this one waited (it saves before it lets go): then start from
      // what is there now. Otherwise the reads made before the lock stand, and no read is repeated (the lock
      // brings the state's version along).
      if (version === first.version) return settleDeal(portalId, playbook, dealId, first, decide, log);
      const loaded = await deps.states.load(portalId, dealId);
      const snapshot = await readSnapshot(portalId, dealId, playbook);
      return settleDeal(portalId, playbook, dealId, { ...loaded, snapshot }, decide, log);
    });
  }

  /** Runs one deal to a persisted decision (settle.ts), re-reading everything when a concurrent save wins. */
  async function settleDeal(
    portalId: string,
    playbook: Playbook,
    dealId: string,
    first: { state: DealState | null; version: number; snapshot: DealSnapshot | undefined },
    decide: Decide,
    log: Logger,
  ): Promise<{ outcome: DealOutcome; result?: EngineResult }> {
    const properties = deps.engine.requiredProperties(playbook);
    // The snapshot the latest decision was made on (after adoption, which reads the deal again).
    let decidedOn: DealSnapshot | undefined;
    const { result, attempt } = await settle(portalId, dealId, first, {
      attempts: maxRetries + 1,
      log,
      decide: async ({ state, version, snapshot }) => {
        // Every attempt: a state lost between attempts (Redis data loss) must adopt as a first visit does.
        decidedOn = await adoptExistingTasks(portalId, { state, version }, snapshot, properties, log);
        if (!decidedOn) {
          // The adapter promises an answer for every id (exists=false for a deleted deal). A silent gap must not
          // be read as "deleted", which would cancel the patient's clocks.
          log.error({ dealId }, 'gateway returned no snapshot for deal');
          throw new Error(`no snapshot for deal ${dealId}`);
        }
        return decideOn(portalId, playbook, state, decidedOn, decide);
      },
      // An id HubSpot has no deal for, never stored: nothing to remember, so no key (any signed webhook can
      // name any id; each would otherwise leave a tombstone behind).
      // A merged-away id does get one (a tombstone that expires): the survivor's reconciles then know it is done.
      nothingToSave: ({ version }, r) =>
        version === 0 && r.state === null && !decidedOn?.exists && !decidedOn?.mergedInto,
      reload: () => readDeal(portalId, dealId, playbook),
    });
    log.debug(
      { dealId, commands: countByType(result.commands), rules: result.decisions.map((d) => d.rule), attempt },
      'deal settled',
    );
    return { outcome: 'applied', result };
  }

  /**
   * The portal's playbook in force. None: after a Redis data loss that is the loss (the job fails and is retried
   * once re-seeded); otherwise an installed portal runs unenforced, which is an error someone must fix, not routine.
   */
  async function playbookInForce(
    portalId: string,
    work: 'reconcile' | 'timer',
    log: Logger,
    fields: Record<string, unknown>,
  ): Promise<Playbook | null> {
    const current = await deps.playbooks.current(portalId);
    if (current) return current.playbook;
    if (deps.redisIntact && !(await deps.redisIntact())) throw new RedisDataLossError(portalId);
    portalWithoutPlaybook.inc({ work });
    log.error(fields, 'portal has no playbook in force; nothing is enforced for it (publish one)');
    return null;
  }

  /**
   * A deal with no stored state (never saved, no tombstone) that HubSpot created before this Redis's state began
   * may carry Stagekeeper tasks from state that was lost: they are mapped by their markers first, so the engine
   * adopts the current visit's tasks and cancels the open ones of ended visits instead of adding duplicates.
   * The snapshot is then read again with task statuses (a rep may have completed some).
   */
  async function adoptExistingTasks(
    portalId: string,
    loaded: { state: DealState | null; version: number },
    snapshot: DealSnapshot | undefined,
    properties: string[],
    log: Logger,
  ): Promise<DealSnapshot | undefined> {
    if (!snapshot?.exists || loaded.state !== null || loaded.version !== 0 || !deps.gateway.adoptMarkedTasks)
      return snapshot;
    let seededAt: number | null = null;
    if (deps.seededAt) {
      seededAt = await deps.seededAt();
      // No state because Redis lost it, and nothing re-seeded yet: deciding now would duplicate the deal's tasks.
      if (seededAt === null) throw new RedisDataLossError(portalId);
    }
    const created = parseHubSpotTime(snapshot.properties[CREATED] ?? null);
    if (seededAt !== null && created !== null && created >= seededAt) return snapshot;
    const adopted = await deps.gateway.adoptMarkedTasks(portalId, snapshot.dealId);
    if (adopted === 0) return snapshot;
    adoptedTasks.inc(adopted);
    log.warn(
      { dealId: snapshot.dealId, adopted },
      'deal without stored state already had Stagekeeper tasks; adopted them',
    );
    return (await deps.gateway.snapshots(portalId, [snapshot.dealId], properties)).get(snapshot.dealId);
  }

  return { playbookInForce, readDeal, settle: settleLocked };
}

export type Decider = ReturnType<typeof createDecider>;

function countByType(commands: Command[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const c of commands) counts[c.type] = (counts[c.type] ?? 0) + 1;
  return counts;
}
