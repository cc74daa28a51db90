import type { HistoryRow } from '../engine/types';

/** Visits exiting from `from` (inclusive) to `to` (exclusive), epoch ms: the range a history read keeps. */
export type ExitRange = { from: number; to: number };

/**
 * Stage visits as columns rather than a row object each: every row is its class (everything but its deal and its
 * times, as a row with an empty deal id and zero times, shared by the rows that have it in common) and its own
 * values. The sync service reads stored history this way (its history-columns.ts), and the scorecard folds it
 * without a row object per visit: it counts each class once per batch and reads only a row's exit and its time in
 * stage. The arrays may be views of a buffer the reader reuses: a batch is valid only during the call it is
 * passed to.
 */
export type ClassedRows = {
  classes: readonly HistoryRow[];
  /** Rows in the batch, those exiting outside `exits` among them. */
  size: number;
  /** Per row: the index of its class. */
  classOf: Uint32Array;
  exitedAt: Float64Array;
  businessMs: Float64Array;
  /** When set, only the rows exiting in [from, to) belong to the batch: the others are skipped. */
  exits: ExitRange | undefined;
  /** Row `i` whole (its deal id and every time), a fresh object. */
  row(i: number): HistoryRow;
};

/** A batch of stage visits as a reader hands them over: row objects, or columns. */
export type RowBatch = readonly HistoryRow[] | ClassedRows;

/** The batch's rows as objects (those exiting in its range), for readers that need them whole. */
export function rowsOf(batch: RowBatch): HistoryRow[] {
  if (Array.isArray(batch)) return batch as HistoryRow[];
  const { size, exitedAt, exits } = batch as ClassedRows;
  const rows: HistoryRow[] = [];
  for (let i = 0; i < size; i++)
    if (!exits || (exitedAt[i]! >= exits.from && exitedAt[i]! < exits.to))
      rows.push((batch as ClassedRows).row(i));
  return rows;
}
