import {
  correctVisitReason,
  setBreachReason,
  visitKey,
  type BreachReason,
  type DealState,
  type EngineResult,
  type HistoryRow,
  type Playbook,
} from '@stagekeeper/shared';
import type { Logger } from '../log';
import type { HubSpotGateway } from '../ports';
import { createSettle } from '../settle';
import type { DealStateStore, LoadedState } from '../state/deal-state-store';
import type { ReasonAuditLog } from '../state/reason-audit-store';

/** HubSpot commands setBreachReason may emit; timers and history are the workers' business. */
const HUBSPOT_COMMANDS = new Set(['setProperties']);

/** Who set a reason: the card's signed caller, or the HubSpot user a property change names. */
export type ReasonAuthor = { userId: string | null; userEmail: string | null };

export type RepReasonDeps = {
  gateway: Pick<HubSpotGateway, 'apply'>;
  states: Pick<DealStateStore, 'load' | 'save'>;
  history: {
    rows(portalId: string, dealId: string, now: number): Promise<HistoryRow[]>;
    /** Writes a corrected row over its own field; absent: past breaches cannot be corrected. */
    rewrite?(portalId: string, row: HistoryRow): Promise<void>;
  };
  audit: ReasonAuditLog;
  log: Logger;
  clock: () => number;
};

/** What became of a past visit's correction. */
export type PastOutcome = 'corrected' | 'unchanged' | 'no_breach' | 'unsupported';

/**
 * A rep's breach reason, wherever it was given (the deal card, or the written-back property edited in HubSpot):
 * one home for how it lands, so the card's breach history, the scorecard and HubSpot's reports agree on it.
 * - the current visit's breach goes through the decide-and-save loop (setBreachReason: the visit's reason, source
 *   manual, and the written-back properties);
 * - an ended visit's breach rewrites its history row (the correction kept, with who and when) and, when it is the
 *   deal's latest breach, the written-back properties too.
 * Each is recorded in the portal's reason audit.
 */
export function repReasons(deps: RepReasonDeps) {
  // Only HubSpot and the state store: a rep's reason schedules no timer and records no history row of its own.
  const settle = createSettle({ gateway: deps.gateway, states: deps.states });

  /**
   * The current visit's breach. `check` may refuse what was read (it throws); `attempts` decisions before
   * StateConflictError when the workers keep saving the deal.
   */
  async function setCurrent(
    portalId: string,
    dealId: string,
    opts: {
      reason: BreachReason;
      author: ReasonAuthor;
      playbook: Playbook;
      attempts: number;
      check(state: DealState | null): asserts state is DealState;
      /** When the rep gave it, for the audit (a HubSpot edit taken later); now unless told. */
      at?: number;
    },
  ): Promise<{ loaded: LoadedState; result: EngineResult }> {
    const { reason, author, playbook } = opts;
    const settled = await settle(portalId, dealId, await deps.states.load(portalId, dealId), {
      attempts: opts.attempts,
      log: deps.log,
      reload: () => deps.states.load(portalId, dealId),
      decide: ({ state }) => {
        opts.check(state);
        return Promise.resolve(setBreachReason({ playbook, state, reason, now: deps.clock() }));
      },
      // An unchanged reason changes no state: nothing to save.
      nothingToSave: ({ state }, result) => result.state === state,
    });
    const { loaded, result } = settled;
    const entry = loaded.state!.current!;
    await deps.audit.record(portalId, {
      at: opts.at ?? deps.clock(),
      dealId,
      entryId: entry.entryId,
      reason,
      from: entry.breachReason,
      ...author,
    });
    return { loaded, result };
  }

  /** The history row of a visit (`entryId`, its key) that ended breached; undefined if the deal has none such. */
  async function breachedVisit(portalId: string, dealId: string, entryId: string) {
    const rows = await deps.history.rows(portalId, dealId, deps.clock());
    return rows.find((r) => visitKey(r) === entryId && r.slaOutcome === 'breached');
  }

  /**
   * An ended visit's breach (`entryId`, the visit's key): its history row rewritten and, when it is the deal's
   * latest breach, the written-back reason too, so HubSpot's reports agree with the card.
   */
  async function correctPast(
    portalId: string,
    dealId: string,
    opts: {
      entryId: string;
      reason: BreachReason;
      author: ReasonAuthor;
      state: DealState | null;
      playbook: Playbook;
      /** Wraps the HubSpot write (the card's: ahead of bulk work, a person is waiting). */
      lane?: <T>(call: () => Promise<T>) => Promise<T>;
      /** When the rep gave it, for the correction and the audit (a HubSpot edit taken later); now unless told. */
      at?: number;
      /** The visit's row, when the caller has just read it; read here otherwise. */
      row?: HistoryRow;
    },
  ): Promise<PastOutcome> {
    const { entryId, reason, author, state, playbook } = opts;
    if (!deps.history.rewrite) return 'unsupported';
    const now = deps.clock();
    const at = opts.at ?? now;
    const row = opts.row ?? (await breachedVisit(portalId, dealId, entryId));
    if (!row) return 'no_breach';
    const corrected = correctVisitReason(row, reason, author.userId, at);
    if (!corrected) return 'unchanged';
    await deps.history.rewrite(portalId, corrected);
    if (state && state.lastBreachEntryId === entryId) {
      const result = setBreachReason({ playbook, state, reason, now });
      const commands = result.commands.filter((c) => HUBSPOT_COMMANDS.has(c.type));
      const write = () => deps.gateway.apply(portalId, dealId, commands);
      if (commands.length > 0) await (opts.lane ? opts.lane(write) : write());
    }
    await deps.audit.record(portalId, {
      at,
      dealId,
      entryId,
      reason,
      from: row.breachReason,
      past: true,
      ...author,
    });
    return 'corrected';
  }

  return { setCurrent, correctPast, breachedVisit };
}

export type RepReasons = ReturnType<typeof repReasons>;
