import { BreachReason, P, type DealState } from '@stagekeeper/shared';
import { z } from 'zod';
import type { HubSpotGateway } from '../ports';
import { HubSpotIdString } from '../queue/job-ids';
import type { DealLock } from '../state/deal-lock';
import type { PlaybookSource } from '../state/playbook-store';
import { repReasons, type RepReasonDeps } from './rep-reason';

/**
 * A person's edit of the written-back breach reason (`stagekeeper_breach_reason`) in HubSpot, as its webhook named
 * it: which deal, which HubSpot user (the event's `sourceId`, "userId:<id>") and when (`occurredAt`, the time the
 * correction and the audit record). Not the value: the handler reads the deal's value as HubSpot holds it when it
 * runs, so edits delivered late or out of order settle on the last one.
 */
export const ReasonEdit = z.object({
  portalId: HubSpotIdString,
  dealId: HubSpotIdString,
  userId: HubSpotIdString,
  at: z.number().int().nonnegative(),
});
export type ReasonEdit = z.infer<typeof ReasonEdit>;

/**
 * What became of an edit: taken as the rep's reason for the current visit (`applied`) or an ended one
 * (`corrected`); the value already what Stagekeeper holds (`unchanged`: our own write, or an edit undone since);
 * a value that is no reason (cleared, or not one of the options) written back over (`restored`); or nothing to
 * give a reason for.
 */
export type ReasonEditOutcome =
  'applied' | 'corrected' | 'unchanged' | 'restored' | 'no_breach' | 'not_managed' | 'gone';

export type HubSpotReasonEditDeps = RepReasonDeps & {
  gateway: Pick<HubSpotGateway, 'apply' | 'snapshots'>;
  playbooks: Pick<PlaybookSource, 'current'>;
  /** The workers' per-deal lock: a reconcile between its HubSpot write and its save would look like an edit. */
  lock: Pick<DealLock, 'withLock'>;
};

/** Decisions before giving up on a deal the workers keep saving (the job is retried). */
const SAVE_ATTEMPTS = 4;

/**
 * Ops and reps see the breach reason as a deal property, and may well correct it there rather than on the card.
 * Such an edit is taken as a rep's reason, exactly as the card's (reasons/rep-reason.ts): the visit's reason and
 * source become the rep's, the history row keeps the correction, and the source property says "manual", so the
 * scorecard and HubSpot's reports agree. The reason it corrects is the deal's latest breach, the one the property
 * shows. Run under the deal's lock, so it never reads a worker's HubSpot write before that worker's save.
 */
export function hubspotReasonEdits(deps: HubSpotReasonEditDeps) {
  const reasons = repReasons(deps);

  /** The reason Stagekeeper holds for the deal's latest breach, and where that breach is. */
  async function recorded(portalId: string, state: DealState) {
    const entryId = state.lastBreachEntryId ?? null;
    if (entryId === null) return null;
    const entry = state.current;
    if (entry?.entryId === entryId && entry.sla?.status === 'breached')
      return {
        entryId,
        current: true,
        reason: entry.breachReason,
        source: entry.breachReasonSource,
      } as const;
    const row = await reasons.breachedVisit(portalId, state.dealId, entryId);
    return row
      ? { entryId, current: false, reason: row.breachReason, source: row.breachReasonSource ?? null, row }
      : null;
  }

  async function decide(edit: ReasonEdit): Promise<ReasonEditOutcome> {
    const { portalId, dealId } = edit;
    const stored = await deps.playbooks.current(portalId);
    const { state } = await deps.states.load(portalId, dealId);
    if (!stored || !state || state.closedReason === 'deleted' || state.closedReason === 'merged')
      return 'not_managed';
    const snapshot = (
      await deps.gateway.snapshots(portalId, [dealId], [P.breachReason], { taskStatuses: 'assume-open' })
    ).get(dealId);
    if (!snapshot?.exists) return 'gone';
    const held = await recorded(portalId, state);
    if (!held) return 'no_breach';
    const value = snapshot.properties[P.breachReason] ?? '';
    if (value === held.reason) return 'unchanged';
    const author = { userId: edit.userId, userEmail: null };
    const parsed = BreachReason.safeParse(value);
    if (!parsed.success) {
      // Cleared, or a value the property's options do not have: a breach always has a reason, so the one
      // Stagekeeper holds goes back (HubSpot's reports would otherwise count the breach as without one).
      await deps.gateway.apply(portalId, dealId, [
        {
          type: 'setProperties',
          properties: {
            [P.breachReason]: held.reason ?? 'other',
            [P.breachReasonSource]: held.source ?? 'inferred',
          },
        },
      ]);
      return 'restored';
    }
    const reason = parsed.data;
    if (!held.current) {
      const outcome = await reasons.correctPast(portalId, dealId, {
        entryId: held.entryId,
        reason,
        author,
        state,
        playbook: stored.playbook,
        at: edit.at,
        row: held.row,
      });
      return outcome === 'corrected' ? 'corrected' : outcome === 'unchanged' ? 'unchanged' : 'no_breach';
    }
    const { loaded, result } = await reasons.setCurrent(portalId, dealId, {
      reason,
      author,
      playbook: stored.playbook,
      attempts: SAVE_ATTEMPTS,
      at: edit.at,
      check(s) {
        if (!s) throw new Error(`deal ${dealId} lost its state while its breach reason was being set`);
      },
    });
    return result.state === loaded.state ? 'unchanged' : 'applied';
  }

  /** Takes one edit; safe to run again (a retried job finds the reason already the rep's: `unchanged`). */
  return function apply(edit: ReasonEdit): Promise<ReasonEditOutcome> {
    return deps.lock.withLock(edit.portalId, edit.dealId, () => decide(edit));
  };
}

export type ApplyReasonEdit = ReturnType<typeof hubspotReasonEdits>;
