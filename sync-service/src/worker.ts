import {
  dependsOnUnreadTasks,
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
  HistoryRow,
  PageCommand,
  Playbook,
  ReconcileInput,
  ResolvePageCommand,
  RoutingInput,
  TimerFiring,
  TimerInput,
} from '@stagekeeper/shared';
import type { Logger } from './log';
import { portalLogger } from './log';
import { parseHubSpotTime } from './hubspot/gateway';
import {
  adoptedTasks,
  portalWithoutPlaybook,
  slaBreaches,
  slaEscalations,
  slaWarnings,
  stateConflicts,
} from './metrics';
import type { HubSpotGateway } from './ports';
import type { TimerQueue } from './queue/timer-queue';
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

/** Timer commands go to BullMQ; the rest (except history) to HubSpot. */
const HUBSPOT_COMMANDS = new Set<Command['type']>([
  'createTask',
  'completeTask',
  'cancelTask',
  'rescheduleTask',
  'setProperties',
  'moveStage',
  'assignOwner',
  'addNote',
]);

/** HubSpot batch reads take at most 100 ids. */
const SNAPSHOT_BATCH = 100;
/** Task statuses are read only when a decision depends on them (see `decideOn`). */
const ASSUME_OPEN = { taskStatuses: 'assume-open' } as const;

export type WorkerDeps = {
  gateway: HubSpotGateway;
  engine: Engine;
  playbooks: PlaybookSource;
  states: DealStateStore;
  history: HistoryStore;
  timers: Pick<TimerQueue, 'schedule' | 'cancel'>;
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
 * Read with every first snapshot: the deals merged into this one. A merged-away deal is closed by its own
 * reconcile, which only its merge webhook (or a timer of its) triggers; when that webhook is lost and no timer is
 * left, nothing else ever names it (HubSpot lists it no more), so its open tasks would stay open on the survivor.
 */
const MERGED_IDS = 'hs_merged_object_ids';

/** The ids HubSpot merged into the deal (`hs_merged_object_ids`, `;`-separated); none for a gone deal. */
function mergedIds(snapshot: DealSnapshot | undefined): string[] {
  if (!snapshot?.exists) return [];
  return (snapshot.properties[MERGED_IDS] ?? '').split(';').filter((id) => /^\d+$/.test(id));
}

/**
 * Whether a merged-away deal still needs its own reconcile: its stored state is not closed, or there is none at
 * all (never reconciled, or lost with Redis's data). A tombstone (version > 0, no state) is a reconcile that
 * already ran.
 */
function needsClosing(loaded: { state: DealState | null; version: number }): boolean {
  if (loaded.state === null) return loaded.version === 0;
  return loaded.state.closedReason !== 'merged' && loaded.state.closedReason !== 'deleted';
}

export type DealOutcome = 'applied' | 'no_playbook' | 'missing_snapshot' | 'conflict_exhausted';

export class StateConflictError extends Error {
  constructor(
    readonly portalId: string,
    readonly dealId: string,
  ) {
    super(`deal state kept changing underneath (portal ${portalId}, deal ${dealId})`);
    this.name = 'StateConflictError';
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

type Decide = (
  playbook: Playbook,
  state: DealState | null,
  snapshot: DealSnapshot,
  now: number,
  routing?: RoutingInput,
) => EngineResult;

/**
 * The imperative shell around the engine. Order per deal: read (state, snapshot) -> decide -> HubSpot commands
 * -> timers -> history -> persist state. State goes last so a crash anywhere before it re-runs the same
 * decision: the adapter is idempotent per task key, timers replace by id and history rows overwrite by key.
 */
export function createProcessor(deps: WorkerDeps) {
  const clock = deps.clock ?? Date.now;
  const maxRetries = deps.maxConflictRetries ?? 5;

  async function applyResult(portalId: string, dealId: string, result: EngineResult): Promise<void> {
    const hubspot = result.commands.filter((c) => HUBSPOT_COMMANDS.has(c.type));
    if (hubspot.length > 0) await deps.gateway.apply(portalId, dealId, hubspot);
    for (const c of result.commands) {
      if (c.type === 'scheduleTimer') await deps.timers.schedule(portalId, dealId, c);
      else if (c.type === 'cancelTimer') await deps.timers.cancel(portalId, c.timerId);
    }
    for (const c of result.commands)
      if (c.type === 'page' || c.type === 'resolvePage') await deps.pages?.enqueue(portalId, dealId, c);
    const rows: HistoryRow[] = result.commands.flatMap((c) => (c.type === 'recordHistory' ? [c.row] : []));
    await deps.history.append(portalId, rows);
  }

  /** Cancels timers scheduled by lost attempts unless the saved decision keeps them. */
  async function cancelOrphanTimers(
    portalId: string,
    scheduled: Set<string>,
    saved: EngineResult,
  ): Promise<void> {
    if (scheduled.size === 0) return;
    const kept = new Set(saved.state?.current?.sla?.timers?.map((t) => t.timerId) ?? []);
    for (const run of saved.state?.clocks ?? []) for (const t of run.sla.timers ?? []) kept.add(t.timerId);
    for (const c of saved.commands) if (c.type === 'scheduleTimer') kept.add(c.timerId);
    for (const timerId of scheduled) if (!kept.has(timerId)) await deps.timers.cancel(portalId, timerId);
  }

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

  /** settleDeal under the deal's lock: the snapshot read before the lock is read again inside it. */
  async function settleLocked(...args: Parameters<typeof settleDeal>): ReturnType<typeof settleDeal> {
    if (!deps.lock) return settleDeal(...args);
    const [portalId, playbook, dealId, first, decide, log] = args;
    return deps.lock.withLock(portalId, dealId, async () => {
      // Another job may have decided the deal while this one waited (it saves before it lets go): then start from
      // what is there now. Otherwise the reads made before the lock stand, and no HubSpot read is repeated.
      const loaded = await deps.states.load(portalId, dealId);
      if (loaded.version === first.version) return settleDeal(portalId, playbook, dealId, first, decide, log);
      const snapshot = (
        await deps.gateway.snapshots(
          portalId,
          [dealId],
          deps.engine.requiredProperties(playbook),
          ASSUME_OPEN,
        )
      ).get(dealId);
      return settleDeal(portalId, playbook, dealId, { ...loaded, snapshot }, decide, log);
    });
  }

  /** Runs one deal to a persisted decision, re-reading everything when a concurrent save wins. */
  async function settleDeal(
    portalId: string,
    playbook: Playbook,
    dealId: string,
    first: { state: DealState | null; version: number; snapshot: DealSnapshot | undefined },
    decide: Decide,
    log: Logger,
  ): Promise<{ outcome: DealOutcome; result?: EngineResult }> {
    let { state, version, snapshot } = first;
    // Timers a losing attempt scheduled: its decision was never saved, so nothing would ever cancel them.
    const orphanTimers = new Set<string>();
    for (let attempt = 0; ; attempt++) {
      // Every attempt: a state lost between attempts (Redis data loss) must adopt as a first visit does.
      snapshot = await adoptExistingTasks(
        portalId,
        { state, version },
        snapshot,
        deps.engine.requiredProperties(playbook),
        log,
      );
      if (!snapshot) {
        // The adapter promises an answer for every id (exists=false for a deleted deal). A silent gap must not
        // be read as "deleted", which would cancel the patient's clocks.
        log.error({ dealId }, 'gateway returned no snapshot for deal');
        throw new Error(`no snapshot for deal ${dealId}`);
      }
      const result = await decideOn(portalId, playbook, state, snapshot, decide);
      await applyResult(portalId, dealId, result);
      // An id HubSpot has no deal for, never stored: nothing to remember, so no key (any signed webhook can
      // name any id; each would otherwise leave a tombstone behind).
      // A merged-away id does get one (a tombstone that expires): the survivor's reconciles then know it is done.
      const nothingToKeep =
        version === 0 && result.state === null && !snapshot.exists && !snapshot.mergedInto;
      if (nothingToKeep || (await deps.states.save(portalId, dealId, version, result.state))) {
        await cancelOrphanTimers(portalId, orphanTimers, result);
        // Only the saved decision's picks move the cursor, so a retried decision does not skip a member.
        const picked = result.commands.flatMap((c) => (c.type === 'advanceRoundRobin' ? [c.role] : []));
        if (picked.length > 0) await deps.roundRobin?.advance(portalId, picked);
        log.debug(
          {
            dealId,
            commands: countByType(result.commands),
            rules: result.decisions.map((d) => d.rule),
            attempt,
          },
          'deal settled',
        );
        return { outcome: 'applied', result };
      }
      for (const c of result.commands) if (c.type === 'scheduleTimer') orphanTimers.add(c.timerId);
      stateConflicts.inc();
      if (attempt >= maxRetries) throw new StateConflictError(portalId, dealId);
      log.info({ dealId, attempt }, 'deal state changed concurrently; deciding again');
      const reloaded = await deps.states.load(portalId, dealId);
      state = reloaded.state;
      version = reloaded.version;
      snapshot = (
        await deps.gateway.snapshots(
          portalId,
          [dealId],
          deps.engine.requiredProperties(playbook),
          ASSUME_OPEN,
        )
      ).get(dealId);
    }
  }

  /**
   * No playbook in force: after a Redis data loss that is the loss (the job fails and is retried once re-seeded);
   * otherwise an installed portal runs unenforced, which is an error someone must fix, not routine.
   */
  async function noPlaybook(
    portalId: string,
    work: 'reconcile' | 'timer',
    log: Logger,
    fields: Record<string, unknown>,
  ): Promise<void> {
    if (deps.redisIntact && !(await deps.redisIntact())) throw new RedisDataLossError(portalId);
    portalWithoutPlaybook.inc({ work });
    log.error(fields, 'portal has no playbook in force; nothing is enforced for it (publish one)');
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

  async function processReconcile(portalId: string, dealIds: string[]): Promise<Map<string, DealOutcome>> {
    const log = portalLogger(deps.log, portalId);
    const outcomes = new Map<string, DealOutcome>();
    const unique = [...new Set(dealIds)];
    const current = await deps.playbooks.current(portalId);
    if (!current) {
      await noPlaybook(portalId, 'reconcile', log, { deals: unique.length });
      for (const id of unique) outcomes.set(id, 'no_playbook');
      return outcomes;
    }
    const { playbook } = current;
    const properties = deps.engine.requiredProperties(playbook);
    const firstRead = [...new Set([...properties, CREATED, MERGED_IDS])];
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
            const { outcome } = await settleLocked(
              portalId,
              playbook,
              dealId,
              { ...states[j]!, snapshot: snapshots.get(dealId) },
              (pb, state, snapshot, now, routing) =>
                deps.engine.reconcile({ playbook: pb, state, snapshot, now, routing }),
              log,
            );
            outcomes.set(dealId, outcome);
            onSettled(snapshots.get(dealId));
          } catch (error) {
            // One bad deal must not hold up the rest of the batch; the job still fails so BullMQ retries.
            failures.push({ dealId, error });
            log.error({ dealId, err: errorSummary(error) }, 'reconcile failed for deal');
          }
        }
      }
    }

    await settleAll(unique, (snapshot) => mergedIds(snapshot).forEach((id) => merged.add(id)));
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

  async function processTimer(portalId: string, dealId: string, timer: TimerFiring): Promise<DealOutcome> {
    const log = portalLogger(deps.log, portalId, { dealId, timerId: timer.timerId });
    const current = await deps.playbooks.current(portalId);
    if (!current) {
      await noPlaybook(portalId, 'timer', log, {});
      return 'no_playbook';
    }
    const { playbook } = current;
    const [loaded, snapshots] = await Promise.all([
      deps.states.load(portalId, dealId),
      deps.gateway.snapshots(portalId, [dealId], deps.engine.requiredProperties(playbook), ASSUME_OPEN),
    ]);
    // Only the first decision is the firing itself; after a conflict the firing may have been handled already,
    // but onTimer re-checks entry and level against the fresh state, so re-asking is safe.
    const { outcome, result } = await settleLocked(
      portalId,
      playbook,
      dealId,
      { ...loaded, snapshot: snapshots.get(dealId) },
      (pb, state, snapshot, now, routing) =>
        deps.engine.onTimer({ playbook: pb, state, snapshot, timer, now, routing }),
      log,
    );
    if (result && result.commands.length > 0) countFiring(timer);
    return outcome;
  }

  return { processReconcile, processTimer };
}

export type Processor = ReturnType<typeof createProcessor>;

/** A firing that led to commands really warned / breached / escalated; a stale one yields none. */
function countFiring(timer: TimerFiring): void {
  if (timer.kind === 'warning') slaWarnings.inc();
  else if (timer.kind === 'breach') slaBreaches.inc();
  else slaEscalations.inc();
}

function countByType(commands: Command[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const c of commands) counts[c.type] = (counts[c.type] ?? 0) + 1;
  return counts;
}

/**
 * Error name and message with quoted fragments blanked: adapter errors may quote HubSpot bodies, and HubSpot's
 * validation messages quote the offending property value.
 */
export function errorSummary(error: unknown): { name: string; message: string } {
  if (!(error instanceof Error)) return { name: 'NonError', message: typeof error };
  return { name: error.name, message: error.message.replace(/"[^"]*"|'[^']*'/g, '"…"').slice(0, 300) };
}
