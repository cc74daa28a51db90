import type { BreachReason } from '../playbook/schema';
import type { HistoryRow } from './types';

/** The history field of a visit, which is also its entry id: `${dealId}:${stage}:${enteredAt}`. */
export const visitKey = (row: Pick<HistoryRow, 'dealId' | 'stage' | 'enteredAt'>): string =>
  `${row.dealId}:${row.stage}:${row.enteredAt}`;

/**
 * A rep's correction of a finished visit's breach reason (the card's breach history). The row keeps what inference
 * said (`inferredReason`) and every correction (who, when, from -> to), so the scorecard counts corrections and
 * a later inference never comes back over it. Null when the row did not breach or already says this, by a rep.
 */
export function correctVisitReason(
  row: HistoryRow,
  reason: BreachReason,
  userId: string | null,
  at: number,
): HistoryRow | null {
  if (row.slaOutcome !== 'breached') return null;
  if (row.breachReason === reason && row.breachReasonSource === 'manual') return null;
  const inferred =
    row.inferredReason !== undefined
      ? row.inferredReason
      : row.breachReasonSource === 'manual'
        ? null
        : row.breachReason;
  return {
    ...row,
    breachReason: reason,
    breachReasonSource: 'manual',
    inferredReason: inferred,
    corrections: [...(row.corrections ?? []), { at, userId, from: row.breachReason, to: reason }],
  };
}

/**
 * A visit counts as corrected when a rep changed its reason after it ended (corrections) or, during the visit,
 * away from what inference said.
 */
export const wasCorrected = (row: HistoryRow): boolean =>
  (row.corrections?.length ?? 0) > 0 ||
  (row.breachReasonSource === 'manual' &&
    row.inferredReason != null &&
    row.inferredReason !== row.breachReason);
