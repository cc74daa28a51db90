import type { Playbook } from '../playbook/schema';
import { P } from '../properties';
import { parseNumber } from './criteria';
import type { Effects } from './effects';
import { eventClockSummary } from './event-clocks';
import { findStage } from './lookup';
import type { DealSnapshot, DealState } from './types';

/** HubSpot's list of the deals merged into this one (`;`-separated ids), read with every snapshot. */
export const MERGED_IDS_PROPERTY = 'hs_merged_object_ids';

/** The ids a value of `hs_merged_object_ids` lists. */
export const parseMergedIds = (value: string | null | undefined): string[] =>
  (value ?? '').split(';').filter((id) => /^\d+$/.test(id));

/** The ids HubSpot merged into the deal; none for a gone deal. */
export function mergedIdsOf(snapshot: DealSnapshot | undefined): string[] {
  return snapshot?.exists ? parseMergedIds(snapshot.properties[MERGED_IDS_PROPERTY]) : [];
}

/**
 * A merge keeps the surviving deal's property values and fills each of its blank ones from the merged deal
 * (`numberOfPropertiesMoved` in the merge event), Stagekeeper's among them. What they mean then differs:
 * - the current visit's properties (SLA status, due and warning times, the gate's missing list, the event-clock
 *   summary) describe the survivor's own visit and clocks, which the merged deal's values do not: a survivor in
 *   a stage without an SLA would show a running SLA due at the merged deal's time, and a clear gate a missing
 *   list, in reports and views for ever (nothing else rewrites a property the engine holds blank). Each one the
 *   survivor's state holds blank is cleared;
 * - the counters (breaches, backflows) and the latest breach's properties are the merged record's history, which
 *   HubSpot reports keep on the survivor once the merged deal is archived: they stay, and the survivor's counters
 *   continue from HubSpot's values (as after a lost state), so its next breach is counted after the merged deal's.
 * Runs once per newly merged id (`state.mergedIds`); a deal first seen already merged records the ids only, since
 * its first visit writes every current-visit property. Call before the visit is decided (the counters), then
 * `clearMergeFills` after it (the current visit's properties, as decided).
 */
export function adoptMerges(fx: Effects, state: DealState, snapshot: DealSnapshot, now: number): boolean {
  const ids = mergedIdsOf(snapshot);
  const known = new Set(state.mergedIds ?? []);
  const added = ids.filter((id) => !known.has(id));
  if (added.length === 0) return false;
  state.mergedIds = [...known, ...added];
  const breaches = parseNumber(snapshot.properties[P.breachCount]) ?? 0;
  const backflows = parseNumber(snapshot.properties[P.backflowCount]) ?? 0;
  state.breachCount = Math.max(state.breachCount, breaches);
  state.backflowCount = Math.max(state.backflowCount, backflows);
  fx.record(
    state,
    now,
    'deal.merged',
    `deal(s) ${added.join(', ')} merged into this one: counters continue from HubSpot's ` +
      `(${state.breachCount} breach(es), ${state.backflowCount} backflow(s)); ` +
      `properties of the current visit the merge filled are cleared`,
  );
  return true;
}

/** The current-visit properties the survivor's own state holds blank, cleared (see `adoptMerges`). */
export function clearMergeFills(fx: Effects, state: DealState, playbook: Playbook): void {
  const blank: Record<string, string> = {};
  if (state.gate.missing.length === 0) blank[P.gateMissing] = '';
  const entry = state.current;
  if (entry) {
    const clock = entry.sla;
    if (!clock || clock.status === 'cancelled') {
      blank[P.slaDueAt] = '';
      blank[P.slaWarningAt] = '';
      // A closed stage's status says how the visit before it ended, which the state does not keep.
      if (!findStage(playbook, entry.stage)?.stage.closed) blank[P.slaStatus] = '';
    }
  }
  fx.set(blank);
  if (playbook.clocks.length > 0) fx.set(eventClockSummary(state));
}
