// The card's view model, as GET /api/card/deal/:dealId returns it (docs/hubspot-app.md).
// Kept here, not imported from shared/, because HubSpot bundles this folder on its own.

export const BREACH_REASONS = [
  'capacity',
  'missing_data',
  'handoff',
  'patient_unreachable',
  'other',
] as const;
export type BreachReason = (typeof BREACH_REASONS)[number];

/** Same values as the written-back stagekeeper_sla_status property. */
export type SlaStatus =
  'running' | 'paused' | 'warning' | 'breached' | 'met' | 'breached_closed' | 'cancelled';
export type GateStatus = 'clear' | 'blocked_reverted' | 'blocked_remediation';

export type Ref = { id: string; label: string };
/** ISO-8601 instant in UTC, e.g. "2026-11-24T15:00:00.000Z". */
export type Instant = string;

export type SlaView = {
  status: SlaStatus;
  basis: 'business' | 'calendar';
  /** Target as written in the playbook, e.g. "4h". */
  target: string;
  targetMs: number;
  /** Basis time used so far (staffed time for business SLAs). */
  elapsedMs: number;
  /** Basis time left; negative once breached. */
  remainingMs: number;
  dueAt: Instant;
  originalDueAt: Instant;
  warningAt: Instant;
  breachedAt: Instant | null;
  pausedAt: Instant | null;
  /** Label of the pause condition that holds, e.g. "Waiting on patient". */
  pauseReason: string | null;
  metAt: Instant | null;
};

export type ChecklistItem = { label: string; met: boolean };

/** A required action of the stage: a task Stagekeeper created on entry. */
export type RequiredAction = {
  id: string;
  subject: string;
  status: 'open' | 'done';
  dueAt: Instant;
  overdue: boolean;
};

/** The usual next move and what it still needs (unmet exit criteria here, entry criteria there), before it is tried. */
export type NextMove = { to: Ref; missing: string[] };

export type GateView = {
  status: GateStatus;
  blockedFrom: Ref | null;
  blockedTo: Ref | null;
  /** Where the deal was sent instead (the remediation stage, or back where it came from). */
  movedTo: Ref | null;
  at: Instant | null;
  missing: string[];
  /** One sentence telling the rep what to do next. */
  remedy: string | null;
};

export type BreachReasonView = { value: BreachReason; source: 'inferred' | 'manual'; evidence: string[] };

export type BreachRecord = {
  stage: Ref;
  breachedAt: Instant;
  reason: BreachReason | null;
  source: 'inferred' | 'manual' | null;
  /** The stage visit, posted back to correct this breach (optional: services older than corrections omit it). */
  entryId?: string;
  /** What decided the inferred reason (labels, never values). */
  evidence?: string[];
  /** A rep changed the reason from what Stagekeeper inferred. */
  corrected?: boolean;
};

/** An escalation page of the deal (issue 17): which level of which stage, through which channel, what became of it. */
export type PageStatus = 'held' | 'queued' | 'sent' | 'failed' | 'no_channel' | 'resolved';
export type PageRecordView = {
  level: number;
  /** The stage's label. */
  stage: string;
  /** The channel id; null when the portal has none (the HubSpot task alone). */
  channel: string | null;
  status: PageStatus;
  /** When the status last changed. */
  at: Instant;
  /** A code ("channel_not_found", "stage_left"), never a service's message. */
  detail: string | null;
};

export type ManagedDealView = {
  managed: true;
  dealId: string;
  playbookVersion: number;
  pipeline: Ref;
  stage: Ref & { enteredAt: Instant };
  ownerRole: { id: string; name: string };
  sla: SlaView | null;
  exitChecklist: ChecklistItem[];
  /** The stage's required actions, in playbook order. */
  requiredActions: RequiredAction[];
  /** Null in a closed stage or the last stage of the journey. */
  nextMove: NextMove | null;
  gate: GateView;
  /** Reason for the breach in the current stage visit; null when it has not breached. */
  breachReason: BreachReasonView | null;
  /** Newest first, at most 20. */
  breaches: BreachRecord[];
  /** Deal properties the current stage's criteria read; the card refetches when one of them is edited. */
  watchProperties: string[];
  /** Latest run of each event clock (support inquiry, refill follow-up); optional for older services. */
  eventClocks?: EventClockView[];
  /** How the current stage's work was routed to its accountable role; null when the owner already held it. */
  routing?: RoutingView | null;
  /** What Stagekeeper changed and why, newest first, at most 20. */
  trail?: TrailEvent[];
  /** Escalation pages, oldest first, at most 20; absent from services without paging. */
  pages?: PageRecordView[];
};

export type EventClockView = {
  id: string;
  label: string;
  status: SlaStatus;
  target: string;
  startedAt: Instant;
  dueAt: Instant;
  warningAt: Instant;
  breachedAt: Instant | null;
  stoppedAt: Instant | null;
  breachReason: BreachReason | null;
};

export type RoutingView = {
  mode: 'assignDeal' | 'assignTasks';
  /** HubSpot owner ids. */
  from: string | null;
  to: string;
  pick: 'roundRobin' | 'fewestOpenTasks' | 'lead';
  at: Instant;
};

export type TrailEvent = { at: Instant; rule: string; detail: string };

export type UnmanagedDealView = {
  managed: false;
  dealId: string;
  reason: 'no_playbook' | 'unmanaged_pipeline' | 'not_found';
  pipeline: Ref | null;
};

export type DealCardView = ManagedDealView | UnmanagedDealView;
