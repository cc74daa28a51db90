// GET /api/scorecard, as documented in docs/hubspot-app.md. Own copy: this folder is bundled alone.

export type BreachReason = 'capacity' | 'missing_data' | 'handoff' | 'patient_unreachable' | 'other';

export type Metrics = {
  /** Stage visits that ended in the week. */
  volume: number;
  /** Median business time in stage of those visits (calendar time for stages without a calendar). */
  medianTimeInStageMs: number | null;
  /** Visits whose SLA was met or breached (stages without an SLA are not counted). */
  slaVisits: number;
  breached: number;
  /** breached / slaVisits; null when slaVisits is 0. */
  breachRate: number | null;
  /** Share of visits that moved forward / backward; null when volume is 0. */
  conversionRate: number | null;
  backflowRate: number | null;
  /** Most frequent first, at most 3. */
  topBreachReasons: { reason: BreachReason; count: number }[];
  /** Optional: services before these fields omit them. Moves into closed-lost stages (not conversions). */
  dropOffRate?: number | null;
  /** Deals in the stage at the week's end (or now), the oldest one's age, and those already breached. */
  inStage?: number;
  maxAgeMs?: number | null;
  openBreached?: number;
  /** Breaches whose reason a rep corrected. */
  reasonCorrections?: number;
};

export type DimensionRow = Metrics & { dimension: { property: string; label: string }; value: string };

export type StageRow = Metrics & {
  pipeline: { id: string; label: string };
  stage: { id: string; label: string };
};
export type RoleRow = Metrics & { role: { id: string; name: string } };

export type ScorecardResponse = {
  /** ISO week, e.g. "2026-W47", in the playbook's reporting time zone. */
  week: string;
  weekStart: string;
  weekEnd: string;
  timeZone: string;
  /** Weeks with data, newest first. */
  availableWeeks: string[];
  byStage: StageRow[];
  byRole: RoleRow[];
  /** Cuts by the playbook's declared dimensions (partner, urgency, channel...). */
  byDimension?: DimensionRow[];
  /** "month" when `week` is a month ("2026-11"); months with data, newest first. */
  period?: 'week' | 'month';
  availableMonths?: string[];
  /** Seed 003's and 004's intake metrics, when the playbook declares its funnel (docs/scorecard.md). */
  funnel?: Funnel;
};

export type Funnel = {
  receivedStage: { id: string; label: string };
  received: number;
  contacted: number;
  contactRate: number | null;
  firstTouchMedianMs: number | null;
  firstTouchP90Ms: number | null;
  incomplete: number;
  incompleteRate: number | null;
  appointmentsBooked: number;
  closureReasons: { stage: { id: string; label: string }; reason: string | null; count: number }[];
  reReferral?: {
    property: string;
    referrals: number;
    decided: number;
    reReferred: number;
    rate: number | null;
    pending: number;
    noPartner: number;
    partners: number;
    partnersReferringAgain: number;
  };
};

/** GET /api/scorecard?format=csv: the CLI's CSV, wrapped in JSON for hubspot.fetch. */
export type ScorecardCsv = { week: string; filename: string; csv: string };
