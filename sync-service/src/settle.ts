import type { Command, EngineResult, HistoryRow, PageCommand, ResolvePageCommand } from '@stagekeeper/shared';
import type { Logger } from './log';
import { stateConflicts } from './metrics';
import type { HubSpotGateway } from './ports';
import type { TimerCommand, TimerQueue } from './queue/timers';
import type { DealStateStore, LoadedState } from './state/deal-state-store';
import type { HistoryStore } from './state/history-store';
import type { RoundRobinStore } from './state/round-robin-store';

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

/** Where a decision's effects go; only HubSpot and the state store are needed by every caller. */
export type SettleDeps = {
  gateway: Pick<HubSpotGateway, 'apply'>;
  states: Pick<DealStateStore, 'save'>;
  /** Absent (the card API): its decisions schedule no timers. */
  timers?: Pick<TimerQueue, 'apply'>;
  /** The page queue (notify/); without it escalations are HubSpot tasks only. */
  pages?: { enqueue(portalId: string, dealId: string, cmd: PageCommand | ResolvePageCommand): Promise<void> };
  /** Absent (the card API): its decisions record no history. */
  history?: Pick<HistoryStore, 'append'>;
  /** Round-robin cursors of the assignment policy; moved only by a saved decision. */
  roundRobin?: Pick<RoundRobinStore, 'advance'>;
};

/** How one caller decides: what it read first, how it reads again and how it decides on what it read. */
export type SettleSteps<L extends LoadedState> = {
  /** The decision for what was read; it may throw to refuse (the card's "no breach here"). */
  decide(loaded: L): Promise<EngineResult>;
  /** Reads the deal again after another writer's save won the compare-and-set. */
  reload(): Promise<L>;
  /** A decision that leaves nothing to store makes no save (and so cannot conflict). */
  nothingToSave(loaded: L, result: EngineResult): boolean;
  /** Decisions in all, the first included, before giving up with StateConflictError. */
  attempts: number;
  log: Logger;
};

export class StateConflictError extends Error {
  constructor(
    readonly portalId: string,
    readonly dealId: string,
  ) {
    super(`deal state kept changing underneath (portal ${portalId}, deal ${dealId})`);
    this.name = 'StateConflictError';
  }
}

/**
 * The one decide-and-save loop (reconcile worker, timer worker, card API): read -> decide -> HubSpot commands ->
 * timers -> pages -> history -> compare-and-set the state, again from a fresh read when another save won. State
 * goes last so a crash anywhere before it re-runs the same decision: the adapter is idempotent per task key,
 * timers replace by id and history rows overwrite by key.
 */
export function createSettle(deps: SettleDeps) {
  async function applyEffects(portalId: string, dealId: string, result: EngineResult): Promise<void> {
    const hubspot = result.commands.filter((c) => HUBSPOT_COMMANDS.has(c.type));
    if (hubspot.length > 0) await deps.gateway.apply(portalId, dealId, hubspot);
    const timers = result.commands.filter(
      (c): c is TimerCommand => c.type === 'scheduleTimer' || c.type === 'cancelTimer',
    );
    if (timers.length > 0) await deps.timers?.apply(portalId, dealId, timers);
    for (const c of result.commands)
      if (c.type === 'page' || c.type === 'resolvePage') await deps.pages?.enqueue(portalId, dealId, c);
    const rows: HistoryRow[] = result.commands.flatMap((c) => (c.type === 'recordHistory' ? [c.row] : []));
    await deps.history?.append(portalId, rows);
  }

  /** Cancels timers scheduled by lost attempts unless the saved decision keeps them. */
  async function cancelOrphanTimers(
    portalId: string,
    dealId: string,
    scheduled: Set<string>,
    saved: EngineResult,
  ): Promise<void> {
    if (scheduled.size === 0) return;
    const kept = new Set(saved.state?.current?.sla?.timers?.map((t) => t.timerId) ?? []);
    for (const run of saved.state?.clocks ?? []) for (const t of run.sla.timers ?? []) kept.add(t.timerId);
    for (const c of saved.commands) if (c.type === 'scheduleTimer') kept.add(c.timerId);
    const orphans = [...scheduled].filter((timerId) => !kept.has(timerId));
    if (orphans.length > 0)
      await deps.timers?.apply(
        portalId,
        dealId,
        orphans.map((timerId) => ({ type: 'cancelTimer', timerId })),
      );
  }

  /** Runs one deal to a saved decision: the decision, what it was made on and its attempt (from 0). */
  return async function settle<L extends LoadedState>(
    portalId: string,
    dealId: string,
    first: L,
    steps: SettleSteps<L>,
  ): Promise<{ result: EngineResult; loaded: L; attempt: number }> {
    let loaded = first;
    // Timers a losing attempt scheduled: its decision was never saved, so nothing would ever cancel them.
    const orphanTimers = new Set<string>();
    for (let attempt = 0; ; attempt++) {
      const result = await steps.decide(loaded);
      await applyEffects(portalId, dealId, result);
      if (
        steps.nothingToSave(loaded, result) ||
        (await deps.states.save(portalId, dealId, loaded.version, result.state))
      ) {
        await cancelOrphanTimers(portalId, dealId, orphanTimers, result);
        // Only the saved decision's picks move the cursor, so a retried decision does not skip a member.
        const picked = result.commands.flatMap((c) => (c.type === 'advanceRoundRobin' ? [c.role] : []));
        if (picked.length > 0) await deps.roundRobin?.advance(portalId, picked);
        return { result, loaded, attempt };
      }
      for (const c of result.commands) if (c.type === 'scheduleTimer') orphanTimers.add(c.timerId);
      stateConflicts.inc();
      if (attempt + 1 >= steps.attempts) throw new StateConflictError(portalId, dealId);
      steps.log.info({ dealId, attempt }, 'deal state changed concurrently; deciding again');
      loaded = await steps.reload();
    }
  };
}

export type Settle = ReturnType<typeof createSettle>;
