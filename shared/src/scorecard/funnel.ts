import { z } from 'zod';
import type { HistoryRow } from '../engine/types';
import type { Playbook } from '../playbook/schema';
import { medianAndP90 } from './stats';

/** 004: a partner "refers again within 30 days". */
export const RE_REFERRAL_WINDOW_MS = 30 * 24 * 3600_000;

/**
 * 003's and 004's intake metrics over one period (docs/scorecard.md, "Intake funnel"). Only for a playbook that
 * declares `scorecard.funnel`.
 */
export const ScorecardFunnel = z.object({
  receivedStage: z.object({ id: z.string(), label: z.string() }),
  /** Visits of the received stage that ended in the period (first touch made, closed, or moved otherwise). */
  received: z.number().int().nonnegative(),
  /** Of those, the ones that moved on to a stage that is not closed: the first touch was made (the stage's exit criteria). */
  contacted: z.number().int().nonnegative(),
  contactRate: z.number().nullable(),
  /** Wall time from entering the received stage to that first touch, over the contacted ones. */
  firstTouchMedianMs: z.number().nullable(),
  firstTouchP90Ms: z.number().nullable(),
  /** Of `received`, those that moved straight into an incomplete stage (Referral Clarification). */
  incomplete: z.number().int().nonnegative(),
  incompleteRate: z.number().nullable(),
  /** Moves into a booked stage in the period (Appointment Booked): a deal booked twice counts twice. */
  appointmentsBooked: z.number().int().nonnegative(),
  /** Moves into a closed stage in the period, by stage and recorded closure reason (null: none recorded). */
  closureReasons: z.array(
    z.object({
      stage: z.object({ id: z.string(), label: z.string() }),
      reason: z.string().nullable(),
      count: z.number().int().positive(),
    }),
  ),
  /**
   * Re-referral within 30 days (004's key metric), over the referrals received in the period (entered the received
   * stage) with a partner recorded: a referral counts as re-referred when the same partner's next referral entered
   * within 30 days after it; decided once that happened or its 30 days are over, pending otherwise.
   */
  reReferral: z
    .object({
      property: z.string(),
      referrals: z.number().int().nonnegative(),
      decided: z.number().int().nonnegative(),
      reReferred: z.number().int().nonnegative(),
      rate: z.number().nullable(),
      pending: z.number().int().nonnegative(),
      /** Referrals of the period with no partner recorded: not in the rate. */
      noPartner: z.number().int().nonnegative(),
      partners: z.number().int().nonnegative(),
      partnersReferringAgain: z.number().int().nonnegative(),
    })
    .optional(),
});
export type ScorecardFunnel = z.infer<typeof ScorecardFunnel>;

/**
 * `rows` may be a superset: the period's metrics count rows that ended in [start, end); re-referral needs the
 * received-stage rows up to 30 days after `end` (a caller reads that far, or up to `now`). `now` decides which
 * 30-day windows are over.
 */
export function computeFunnel(
  playbook: Playbook,
  rows: readonly HistoryRow[],
  start: number,
  end: number,
  now: number,
): ScorecardFunnel | undefined {
  const funnel = playbook.scorecard?.funnel;
  if (!funnel) return undefined;
  const stages = new Map(playbook.pipelines.flatMap((pl) => pl.stages.map((s) => [s.id, s] as const)));
  const label = (id: string) => ({ id, label: stages.get(id)?.label ?? id });
  const incompleteStages = new Set(funnel.incomplete);
  const bookedStages = new Set(funnel.booked);

  let received = 0;
  let contacted = 0;
  let incomplete = 0;
  let booked = 0;
  const touch: number[] = [];
  const closures = new Map<string, { stage: string; reason: string | null; count: number }>();
  for (const r of rows) {
    if (!(r.exitedAt >= start && r.exitedAt < end)) continue;
    const to = r.toStage === null ? undefined : stages.get(r.toStage);
    if (r.stage === funnel.received) {
      received++;
      if (to && !to.closed && r.direction === 'forward') {
        contacted++;
        touch.push(r.exitedAt - r.enteredAt);
      }
      if (r.toStage !== null && incompleteStages.has(r.toStage)) incomplete++;
    }
    if (r.toStage !== null && bookedStages.has(r.toStage)) booked++;
    if (to?.closed) {
      const reason = r.closureReason ?? null;
      const key = `${to.id}\u0000${reason ?? ''}`;
      const c = closures.get(key);
      if (c) c.count++;
      else closures.set(key, { stage: to.id, reason, count: 1 });
    }
  }
  const { median, p90 } = medianAndP90(Float64Array.from(touch));
  const rate = (n: number, d: number) => (d === 0 ? null : n / d);
  return {
    receivedStage: label(funnel.received),
    received,
    contacted,
    contactRate: rate(contacted, received),
    firstTouchMedianMs: median,
    firstTouchP90Ms: p90,
    incomplete,
    incompleteRate: rate(incomplete, received),
    appointmentsBooked: booked,
    closureReasons: [...closures.values()]
      .sort(
        (a, b) =>
          b.count - a.count ||
          (a.stage < b.stage ? -1 : a.stage > b.stage ? 1 : 0) ||
          ((a.reason ?? '') < (b.reason ?? '') ? -1 : 1),
      )
      .map((c) => ({ stage: label(c.stage), reason: c.reason, count: c.count })),
    ...(funnel.partner
      ? { reReferral: reReferral(rows, funnel.received, funnel.partner, start, end, now) }
      : {}),
  };
}

/**
 * Which rows computeFunnel reads, for a reader that cannot keep them all (startScorecard): the received stage's
 * visits (any exit: re-referral dates them by entry), and the period's moves into a booked or closed stage. Given
 * those rows in their order, computeFunnel answers as it does over all of them. Undefined: no funnel.
 */
export function funnelKeeps(
  playbook: Playbook,
  start: number,
  end: number,
): ((row: HistoryRow) => boolean) | undefined {
  const funnel = playbook.scorecard?.funnel;
  if (!funnel) return undefined;
  const into = new Set<string>(funnel.booked);
  for (const pl of playbook.pipelines) for (const s of pl.stages) if (s.closed) into.add(s.id);
  return (r) =>
    r.stage === funnel.received ||
    (r.toStage !== null && into.has(r.toStage) && r.exitedAt >= start && r.exitedAt < end);
}

function reReferral(
  rows: readonly HistoryRow[],
  receivedStage: string,
  property: string,
  start: number,
  end: number,
  now: number,
) {
  // A referral is a visit of the received stage, dated by its entry; one row per visit, so a deal re-entering
  // the stage (sent back to intake) is not a new referral unless it is a new deal.
  const firstEntry = new Map<string, { at: number; partner: string | undefined }>();
  for (const r of rows) {
    if (r.stage !== receivedStage) continue;
    const seen = firstEntry.get(r.dealId);
    if (!seen || r.enteredAt < seen.at)
      firstEntry.set(r.dealId, { at: r.enteredAt, partner: r.dims?.[property] ?? seen?.partner });
    else if (seen.partner === undefined && r.dims?.[property]) seen.partner = r.dims[property];
  }
  const byPartner = new Map<string, number[]>();
  let referrals = 0;
  let noPartner = 0;
  for (const { at, partner } of firstEntry.values()) {
    if (at >= start && at < end) referrals++;
    if (partner === undefined) {
      if (at >= start && at < end) noPartner++;
      continue;
    }
    let list = byPartner.get(partner);
    if (!list) byPartner.set(partner, (list = []));
    list.push(at);
  }
  let decided = 0;
  let reReferred = 0;
  let pending = 0;
  let partners = 0;
  let partnersAgain = 0;
  for (const times of byPartner.values()) {
    times.sort((a, b) => a - b);
    let inPeriod = false;
    let again = false;
    times.forEach((at, i) => {
      if (!(at >= start && at < end)) return;
      inPeriod = true;
      const next = times[i + 1];
      if (next !== undefined && next - at <= RE_REFERRAL_WINDOW_MS) {
        decided++;
        reReferred++;
        again = true;
      } else if (at + RE_REFERRAL_WINDOW_MS <= now) decided++;
      else pending++;
    });
    if (inPeriod) partners++;
    if (again) partnersAgain++;
  }
  return {
    property,
    referrals,
    decided,
    reReferred,
    rate: decided === 0 ? null : reReferred / decided,
    pending,
    noPartner,
    partners,
    partnersReferringAgain: partnersAgain,
  };
}

/**
 * How far history must be read for a period ending at `end`: re-referral looks up to 30 days past it (no further
 * than a week past `now`, the newest history bucket); without a partner dimension, the period itself.
 */
export function historyNeededUntil(playbook: Playbook, end: number, now: number): number {
  if (!playbook.scorecard?.funnel?.partner) return end;
  return Math.max(end, Math.min(end + RE_REFERRAL_WINDOW_MS, now + 7 * 24 * 3600_000));
}
