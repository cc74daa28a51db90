import { z } from 'zod';

/** One side (the playbook in force, or the draft) of a what-if group; rates and counts per week of the window. */
export const WhatIfSide = z.object({
  /** Visits with an SLA outcome (met or breached) under this playbook. */
  slaVisits: z.number().int().nonnegative(),
  breached: z.number().int().nonnegative(),
  breachRate: z.number().nullable(),
  warningsPerWeek: z.number(),
  escalationsPerWeek: z.number(),
  tasksPerWeek: z.number(),
  /** Visits this playbook cannot decide from what was recorded (never guessed). */
  unknown: z.number().int().nonnegative(),
});

export const WhatIfMetrics = z.object({
  visits: z.number().int().nonnegative(),
  current: WhatIfSide,
  draft: WhatIfSide,
  /** Median of (draft due - current due) over visits both decide with an SLA; null when there are none. */
  medianDueShiftMs: z.number().nullable(),
  /** Visits whose outcome changes between met and breached (or gains/loses a breach). */
  flips: z.number().int().nonnegative(),
});

export const WhatIfStageRow = WhatIfMetrics.extend({
  pipeline: z.object({ id: z.string(), label: z.string() }),
  stage: z.object({ id: z.string(), label: z.string() }),
});
export const WhatIfRoleRow = WhatIfMetrics.extend({ role: z.object({ id: z.string(), name: z.string() }) });

export const WhatIfOutcome = z.enum(['met', 'breached', 'none', 'cancelled', 'unknown']);
/** Ids only: a deal, the stage of the visit and how its outcome changes. */
export const WhatIfFlip = z.object({
  dealId: z.string(),
  stage: z.string(),
  enteredAt: z.number(),
  from: WhatIfOutcome,
  to: WhatIfOutcome,
});

export const RepairStageRow = z.object({
  stage: z.object({ id: z.string(), label: z.string() }),
  /** Running visits (clock running or paused) in the stage now. */
  deals: z.number().int().nonnegative(),
  moved: z.number().int().nonnegative(),
  unknown: z.number().int().nonnegative(),
  /** Deals whose SLA the draft removes (or adds). */
  removed: z.number().int().nonnegative(),
  added: z.number().int().nonnegative(),
  medianShiftMs: z.number().nullable(),
  minShiftMs: z.number().nullable(),
  maxShiftMs: z.number().nullable(),
});

export const RepairPreview = z.object({
  deals: z.number().int().nonnegative(),
  byStage: z.array(RepairStageRow),
  /** Deals whose due time moves, largest move first (ids only); at most MAX_LISTED. */
  moves: z.array(
    z.object({
      dealId: z.string(),
      stage: z.string(),
      fromDueAt: z.number().nullable(),
      toDueAt: z.number().nullable(),
    }),
  ),
});

export const WhatIfReport = z.object({
  weeks: z.number().int().positive(),
  from: z.string(),
  to: z.string(),
  currentVersion: z.number(),
  draftVersion: z.number(),
  byStage: z.array(WhatIfStageRow),
  byRole: z.array(WhatIfRoleRow),
  totals: WhatIfMetrics,
  /** Visits whose outcome flips, newest first; at most MAX_LISTED (flipsTotal counts all). */
  flipped: z.array(WhatIfFlip),
  flipsTotal: z.number().int().nonnegative(),
  repair: RepairPreview,
});

export type WhatIfSide = z.infer<typeof WhatIfSide>;
export type WhatIfMetrics = z.infer<typeof WhatIfMetrics>;
export type WhatIfStageRow = z.infer<typeof WhatIfStageRow>;
export type WhatIfRoleRow = z.infer<typeof WhatIfRoleRow>;
export type WhatIfFlip = z.infer<typeof WhatIfFlip>;
export type RepairStageRow = z.infer<typeof RepairStageRow>;
export type RepairPreview = z.infer<typeof RepairPreview>;
export type WhatIfReport = z.infer<typeof WhatIfReport>;

/** Lists of deal ids in a report stay short enough for a settings page. */
export const MAX_LISTED = 200;
