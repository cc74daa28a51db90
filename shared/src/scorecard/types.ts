import { z } from 'zod';
import { BreachReason } from '../playbook/schema';
import { ScorecardFunnel } from './funnel';

/**
 * The scorecard contract of docs/hubspot-app.md §4.7. Two fields are additions the page ignores:
 * `p90TimeInStageMs` on every row and the `totals` row (all visits of the week), both for the CLI.
 */

export const ScorecardMetrics = z.object({
  volume: z.number().int().nonnegative(),
  medianTimeInStageMs: z.number().nullable(),
  p90TimeInStageMs: z.number().nullable(),
  slaVisits: z.number().int().nonnegative(),
  breached: z.number().int().nonnegative(),
  breachRate: z.number().nullable(),
  conversionRate: z.number().nullable(),
  backflowRate: z.number().nullable(),
  /** Visits that ended in a closed-lost stage (Not Qualified, Denied, Referral Declined): drop-off, not conversion. */
  droppedOff: z.number().int().nonnegative().optional(),
  dropOffRate: z.number().nullable().optional(),
  /** Deals in the stage at the end of the week (or now), their median and oldest age (wall time since entry). */
  inStage: z.number().int().nonnegative().optional(),
  medianAgeMs: z.number().nullable().optional(),
  maxAgeMs: z.number().nullable().optional(),
  /** Of `inStage`, those already breached: counted in `breached` and the breach rate, not hidden until they move. */
  openBreached: z.number().int().nonnegative().optional(),
  /** Breaches whose reason a rep corrected. */
  reasonCorrections: z.number().int().nonnegative().optional(),
  topBreachReasons: z.array(z.object({ reason: BreachReason, count: z.number().int().positive() })).max(3),
});

export const ScorecardStageRow = ScorecardMetrics.extend({
  pipeline: z.object({ id: z.string(), label: z.string() }),
  stage: z.object({ id: z.string(), label: z.string() }),
});

export const ScorecardRoleRow = ScorecardMetrics.extend({
  role: z.object({ id: z.string(), name: z.string() }),
});

/** An event clock's runs stopped in the week (support inquiry response, refill follow-up): time is time to stop. */
export const ScorecardClockRow = ScorecardMetrics.extend({
  clock: z.object({ id: z.string(), label: z.string() }),
});

/** One value of a playbook-declared dimension (urgency, channel, lead type, partner), over the week's visits. */
export const ScorecardDimensionRow = ScorecardMetrics.extend({
  dimension: z.object({ property: z.string(), label: z.string() }),
  /** The recorded value; "(none)" for visits without one. */
  value: z.string(),
});

export const Scorecard = z.object({
  week: z.string(),
  weekStart: z.string(),
  weekEnd: z.string(),
  timeZone: z.string(),
  availableWeeks: z.array(z.string()),
  /** Months ("YYYY-MM") that may hold data, newest first: the monthly review's picker. */
  availableMonths: z.array(z.string()).optional(),
  byStage: z.array(ScorecardStageRow),
  byRole: z.array(ScorecardRoleRow),
  /** Cuts by the playbook's `scorecard.dimensions` (absent when it declares none). */
  byDimension: z.array(ScorecardDimensionRow).optional(),
  /** 003's and 004's intake metrics (absent unless the playbook declares `scorecard.funnel`). */
  funnel: ScorecardFunnel.optional(),
  /** "month" when `week` is a month ("YYYY-MM") and weekStart/weekEnd its first and last days. */
  period: z.enum(['week', 'month']).optional(),
  totals: ScorecardMetrics,
  /** Event clocks, apart from the stages (their runs are not stage visits); absent from older producers. */
  byClock: z.array(ScorecardClockRow).optional(),
});

export type ScorecardMetrics = z.infer<typeof ScorecardMetrics>;
export type ScorecardStageRow = z.infer<typeof ScorecardStageRow>;
export type ScorecardRoleRow = z.infer<typeof ScorecardRoleRow>;
export type Scorecard = z.infer<typeof Scorecard>;
export type ScorecardClockRow = z.infer<typeof ScorecardClockRow>;
export type ScorecardDimensionRow = z.infer<typeof ScorecardDimensionRow>;
