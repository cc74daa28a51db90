import type { HistoryRow } from '../engine/types';
import { medianAndP90 } from './stats';
import type { OpenVisit } from './compute';

export type CycleTime = {
  from: string;
  to: string;
  /** Deals that reached `to` after entering `from`, with `to` entered in [start, end). */
  deals: number;
  medianMs: number | null;
  p90Ms: number | null;
};

/**
 * Wall time from a deal's first entry into stage `from` to its next entry into stage `to` (lead -> started care,
 * referral received -> started care), over the deals that reached `to` in [start, end). Entries come from
 * finished visits and the visits open now; a deal must have entered `from` in the rows read, so callers read
 * enough history back (a cohort whose start precedes the rows is not counted, rather than guessed).
 */
export function cycleTime(
  rows: readonly HistoryRow[],
  open: readonly OpenVisit[],
  from: string,
  to: string,
  start: number,
  end: number,
): CycleTime {
  const entries = new Map<string, { from: number[]; to: number[] }>();
  const add = (dealId: string, stage: string, at: number) => {
    if (stage !== from && stage !== to) return;
    let e = entries.get(dealId);
    if (!e) entries.set(dealId, (e = { from: [], to: [] }));
    (stage === from ? e.from : e.to).push(at);
  };
  for (const r of rows) add(r.dealId, r.stage, r.enteredAt);
  for (const v of open) if (v.dealId !== undefined) add(v.dealId, v.stage, v.enteredAt);
  const times: number[] = [];
  for (const e of entries.values()) {
    if (e.from.length === 0 || e.to.length === 0) continue;
    const first = Math.min(...e.from);
    const reached = e.to.filter((t) => t > first).sort((a, b) => a - b)[0];
    if (reached !== undefined && reached >= start && reached < end) times.push(reached - first);
  }
  const { median, p90 } = medianAndP90(Float64Array.from(times));
  return { from, to, deals: times.length, medianMs: median, p90Ms: p90 };
}
