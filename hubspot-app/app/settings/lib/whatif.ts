// The what-if report as POST /api/settings/whatif answers it (shared/src/whatif/types.ts, the service's contract).
// Copied as types only: HubSpot packages each UI extension folder alone, so shared/ cannot be imported here.

export type WhatIfSide = {
  slaVisits: number;
  breached: number;
  breachRate: number | null;
  warningsPerWeek: number;
  escalationsPerWeek: number;
  tasksPerWeek: number;
  unknown: number;
};

export type WhatIfMetrics = {
  visits: number;
  current: WhatIfSide;
  draft: WhatIfSide;
  medianDueShiftMs: number | null;
  flips: number;
};

export type WhatIfReport = {
  weeks: number;
  from: string;
  to: string;
  currentVersion: number;
  draftVersion: number;
  byStage: (WhatIfMetrics & {
    pipeline: { id: string; label: string };
    stage: { id: string; label: string };
  })[];
  byRole: (WhatIfMetrics & { role: { id: string; name: string } })[];
  totals: WhatIfMetrics;
  flipped: { dealId: string; stage: string; enteredAt: number; from: string; to: string }[];
  flipsTotal: number;
  repair: {
    deals: number;
    byStage: {
      stage: { id: string; label: string };
      deals: number;
      moved: number;
      unknown: number;
      removed: number;
      added: number;
      medianShiftMs: number | null;
      minShiftMs: number | null;
      maxShiftMs: number | null;
    }[];
    moves: { dealId: string; stage: string; fromDueAt: number | null; toDueAt: number | null }[];
  };
};

export const percent = (rate: number | null) => (rate === null ? '-' : `${(rate * 100).toFixed(1)}%`);

/** A move of a due time in staffed-time-neutral units: "+1h 30m", "-20m", "0m". */
export function shift(ms: number | null): string {
  if (ms === null) return '-';
  const minutes = Math.round(Math.abs(ms) / 60_000);
  if (minutes === 0) return '0m';
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return `${ms > 0 ? '+' : '-'}${h > 0 ? `${h}h` : ''}${h > 0 && m > 0 ? ' ' : ''}${m > 0 || h === 0 ? `${m}m` : ''}`;
}
