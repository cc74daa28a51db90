import { z } from 'zod';
import { BreachReason } from '../playbook/schema';

/**
 * The engine's contract with the service. Everything crossing it is a zod schema so stored state can be
 * validated when read back from Redis, and types come from `z.infer`.
 * Times are epoch milliseconds (numbers); the engine never reads the system clock.
 */

// ---------------------------------------------------------------------------------------------------------
// Input: what HubSpot says about the deal right now (built by the service from one batch read).

export const TaskStatus = z.enum(['NOT_STARTED', 'IN_PROGRESS', 'WAITING', 'DEFERRED', 'COMPLETED']);

export const DealSnapshot = z.object({
  dealId: z.string(),
  /** false when HubSpot answers 404 / archived: the deal was deleted or merged away. */
  exists: z.boolean(),
  /** The surviving deal id when this one was merged into another. */
  mergedInto: z.string().optional(),
  pipeline: z.string().nullable(),
  stage: z.string().nullable(),
  ownerId: z.string().nullable(),
  /** HubSpot's `hs_v2_date_entered_<stage>` for the current stage, parsed; null if HubSpot has not set it. */
  stageEnteredAt: z.number().nullable(),
  /** Raw property values as HubSpot returns them (strings; null when empty). Never logged. */
  properties: z.record(z.string(), z.string().nullable()),
  /**
   * Status of each task Stagekeeper created for this deal, keyed by the engine's task key.
   * A key missing here means the task does not exist (yet, or was deleted in HubSpot).
   */
  tasks: z.record(z.string(), TaskStatus).default({}),
  /**
   * Keys of `tasks` whose status was not read from HubSpot but taken as open, because Stagekeeper left them open
   * and reading costs a HubSpot call. The service reads them when the decision depends on them
   * (`dependsOnUnreadTasks`); the engine itself never looks at this list.
   */
  unreadTasks: z.array(z.string()).optional(),
  /** Open Stagekeeper tasks held by the deal owner across the portal (capacity evidence); optional. */
  ownerOpenTasks: z.number().int().nonnegative().optional(),
});

// ---------------------------------------------------------------------------------------------------------
// What a stage visit records of the inputs that decided it, so a draft playbook can be replayed over it exactly
// (shared/src/whatif). Flags and enumeration values only, and truth values of criteria: never free text.

/**
 * Inputs seen at one instant. `props`: values of the properties the playbook compares by equals / notEquals /
 * oneOf (enumerations and flags), kept only when the value is a short token, null when empty; a property absent
 * here was not captured. `held`: whether each criterion of the stage's targets, pauses and exit held, keyed by
 * `criterionKey` (op, property, comparison value; never the deal's value).
 */
export const InputsAt = z.object({
  props: z.record(z.string(), z.string().nullable()),
  held: z.record(z.string(), z.boolean()),
});

export const VisitInputs = z.object({
  /** At entry: what chose the target (and whether a pause already held). */
  entry: InputsAt,
  /** At exit: what the gate and the breach-reason evidence read. */
  exit: InputsAt,
  /** Intervals [from, to] (epoch ms) during which a pause condition of the stage held, as the engine saw them. */
  pauses: z.array(z.tuple([z.number(), z.number()])),
  /** criterionKey list of the pause conditions in force when the intervals were seen. */
  pauseKey: z.string(),
  /** Breach-reason evidence at exit: counts and flags only; absent when the deal was gone (deleted, merged). */
  evidence: z
    .object({
      ownerChanges: z.number().int().nonnegative(),
      /** When the owner changed (instants only), so a replay counts the changes before its own breach time. */
      ownerChangesAt: z.array(z.number()).optional(),
      noOwner: z.boolean(),
      unansweredAttempts: z.number().int().nonnegative(),
      ownerOpenTasks: z.number().int().nonnegative().optional(),
    })
    .optional(),
});

export type InputsAt = z.infer<typeof InputsAt>;
export type VisitInputs = z.infer<typeof VisitInputs>;

// ---------------------------------------------------------------------------------------------------------
// Stored state per deal (Redis), owned by the engine.

export const SlaClockStatus = z.enum(['running', 'paused', 'met', 'breached', 'cancelled']);

export const SlaClock = z.object({
  basis: z.enum(['business', 'calendar']),
  calendar: z.string().optional(),
  /** The target that applies (after conditional overrides), in ms of the basis. */
  targetMs: z.number(),
  /** Which rule chose the target: "default" or "overrides[i]". */
  targetRule: z.string(),
  status: SlaClockStatus,
  /** Breach instant as first computed, and as moved by pauses. */
  originalDueAt: z.number(),
  dueAt: z.number(),
  warningAt: z.number(),
  /** Basis time consumed before the current run started (grows at each pause). */
  consumedMs: z.number(),
  /** Instant the current running stretch began (entry, or the last resume). */
  runningSince: z.number().nullable(),
  pausedAt: z.number().nullable(),
  warned: z.boolean(),
  breachedAt: z.number().nullable(),
  /** Indexes of escalation levels already fired in this entry. */
  levelsFired: z.array(z.number().int()),
  /** Actual (wall-clock) time the stage took, set at exit. */
  metAt: z.number().nullable(),
  /**
   * Timers currently scheduled for this clock (not yet fired or cancelled), so later calls emit only the
   * difference and can cancel them even after a playbook edit removed the levels they came from.
   */
  timers: z.array(z.object({ timerId: z.string(), fireAt: z.number() })).optional(),
  /** Escalation levels that paged the lead (a page command went out), so leaving the stage resolves them. */
  paged: z.array(z.number().int()).optional(),
});

/** How the stage's work was routed at entry (seed 000's owner model); shown on the card and in the trail. */
export const Routing = z.object({
  at: z.number(),
  /** assignDeal: the deal changed owner; assignTasks: only the stage's tasks went to `to`. */
  mode: z.enum(['assignDeal', 'assignTasks']),
  from: z.string().nullable(),
  to: z.string(),
  /** How `to` was chosen: roundRobin, fewestOpenTasks, or lead (the role lists no member). */
  pick: z.enum(['roundRobin', 'fewestOpenTasks', 'lead']),
});

/** Counts and flags of breach-reason evidence (shared/src/engine/breach-evidence.ts); null: not known. */
export const BreachFacts = z.object({
  ownerOpenTasks: z.number().int().nonnegative().nullable(),
  capacityThreshold: z.number().int().nonnegative().nullable(),
  unansweredAttempts: z.number().int().nonnegative(),
  missingData: z.number().int().nonnegative(),
  pendingActions: z.number().int().nonnegative(),
  ownerChanges: z.number().int().nonnegative(),
  noOwner: z.boolean(),
  ownerOutsideRole: z.boolean().nullable(),
});

export const OwnerChange = z.object({
  at: z.number(),
  from: z.string().nullable(),
  to: z.string().nullable(),
});

export const StageEntry = z.object({
  /** Deterministic: `${dealId}:${stage}:${enteredAt}`; task keys and timer ids derive from it. */
  entryId: z.string(),
  pipeline: z.string(),
  stage: z.string(),
  enteredAt: z.number(),
  ownerRole: z.string(),
  ownerAtEntry: z.string().nullable(),
  sla: SlaClock.nullable(),
  /** Task keys created in this entry, with what they were for. */
  tasks: z.array(z.object({ key: z.string(), kind: z.string(), templateId: z.string().optional() })),
  ownerChanges: z.array(OwnerChange),
  /** Evidence baseline for breach reasons (contact attempts at entry). */
  contactAttemptsAtEntry: z.number(),
  breachReason: BreachReason.nullable(),
  breachReasonSource: z.enum(['inferred', 'manual']).nullable(),
  /** Evidence the reason was inferred from (labels only, no property values). */
  breachEvidence: z.array(z.string()),
  /** The evidence's counts and flags at the breach (optional: visits that breached before it was recorded). */
  breachFacts: BreachFacts.optional(),
  /** What inference said at the breach, kept when a rep corrects the reason so corrections can be counted. */
  inferredReason: BreachReason.nullable().optional(),
  /**
   * Where `enteredAt` came from: HubSpot's hs_v2_date_entered_<stage>, or `now` when HubSpot gave none.
   * Optional so state stored before this field existed still parses ("hubspot" is assumed).
   */
  enteredAtSource: z.enum(['hubspot', 'now']).optional(),
  /**
   * Other hs_v2_date_entered values HubSpot reported for this same visit: the echo of our own gate revert
   * (HubSpot stamps a new entry time when we move the deal back), or the real time after a `now` fallback.
   */
  aliasEnteredAt: z.array(z.number()).optional(),
  /** Who does the stage's work when routing gave the tasks (not the deal) to a role member. */
  assignee: z.string().nullable().optional(),
  routing: Routing.nullable().optional(),
  /** Inputs that decided the visit at entry, for what-if replays; optional so older state still parses. */
  inputs: InputsAt.optional(),
  /** Intervals in which a pause condition held ([from, null] while it still holds), for what-if replays. */
  pauseSeen: z.array(z.tuple([z.number(), z.number().nullable()])).optional(),
});

/** One run of a playbook event clock (`clocks:`), from its start event to its stop. */
export const EventClockRun = z.object({
  clockId: z.string(),
  /** `${dealId}:clock.${clockId}:${startedAt}`; its task keys and timer ids derive from it like a stage entry's. */
  runId: z.string(),
  startedAt: z.number(),
  role: z.string(),
  sla: SlaClock,
  tasks: z.array(z.object({ key: z.string(), kind: z.string() })),
  stoppedAt: z.number().nullable(),
  breachReason: BreachReason.nullable(),
});

/** A line of the deal's trail: what Stagekeeper changed and why (labels and ids, never property values). */
export const TrailEvent = z.object({ at: z.number(), rule: z.string(), detail: z.string() });

export const GateState = z.object({
  status: z.enum(['clear', 'blocked_reverted', 'blocked_remediation']),
  /** Labels of what was missing (never values). */
  missing: z.array(z.string()),
  /** The move that was blocked, so the echo webhook of our own stage write is recognised. */
  blockedFrom: z.string().nullable(),
  blockedTo: z.string().nullable(),
  /** Stage the engine moved the deal to and is waiting for HubSpot to show. */
  pendingStage: z.string().nullable(),
  at: z.number().nullable(),
  /** hs_v2_date_entered of the blocked move, so a duplicate of that snapshot is recognised as already handled. */
  blockedEnteredAt: z.number().nullable().optional(),
  /**
   * Remediation task created at block time that belongs to the remediation stage's entry once HubSpot shows
   * the deal there (a revert's task belongs to the current entry and is not kept here).
   */
  taskKey: z.string().nullable().optional(),
});

export const DealState = z.object({
  dealId: z.string(),
  playbookVersion: z.number(),
  current: StageEntry.nullable(),
  lastOwnerId: z.string().nullable(),
  breachCount: z.number().int(),
  backflowCount: z.number().int(),
  gate: GateState,
  /** Set when the deal was deleted, merged or left managed pipelines: no further work. */
  closedReason: z.enum(['deleted', 'merged', 'unmanaged_pipeline', 'closed_stage']).nullable(),
  /**
   * Latest hs_v2_date_entered seen from HubSpot. The deal's current-stage entry time only grows, so a snapshot
   * with an older one is a stale read or a late duplicate and is ignored.
   */
  seenEnteredAt: z.number().nullable().optional(),
  /**
   * An owner assignment the engine ordered (escalation reassign) that HubSpot may not show yet; snapshots that
   * still show the previous owner are not a new change.
   */
  pendingOwner: z.object({ from: z.string().nullable(), to: z.string() }).nullable().optional(),
  /** Entry id of the latest breach, so a manual reason from the card lands on the breach it is about. */
  lastBreachEntryId: z.string().nullable().optional(),
  /** The latest run of each event clock (optional so state stored before clocks existed still parses). */
  clocks: z.array(EventClockRun).optional(),
  /**
   * Fingerprints (not values: they may be health data) of the properties event clocks watch, as last seen, so a
   * change is recognised. Absent until the deal is first seen under a playbook with clocks.
   */
  watch: z.record(z.string(), z.string().nullable()).optional(),
  /**
   * The deals HubSpot merged into this one that the engine has accounted for (engine/merges.ts); absent until the
   * first merge, so an unmerged deal stores nothing for it.
   */
  mergedIds: z.array(z.string()).optional(),
  /** Newest last, bounded (TRAIL_MAX): target changes, event clocks, routing. */
  trail: z.array(TrailEvent).optional(),
});

// ---------------------------------------------------------------------------------------------------------
// Output: commands for the service's HubSpot adapter and timer scheduler.

/**
 * What a page says, as facts; each channel renders them (sync-service/src/notify/render.ts). Labels, ids,
 * durations and instants only: never a deal property value, which may be health data.
 */
export const PageFacts = z.object({
  dealId: z.string(),
  pipeline: z.object({ id: z.string(), label: z.string() }),
  stage: z.object({ id: z.string(), label: z.string() }),
  role: z.object({ id: z.string(), name: z.string() }),
  /** HubSpot owner id of the role's lead, the person paged. */
  leadOwnerId: z.string().nullable(),
  /** 1-based, as the card and the tasks say it. */
  level: z.number().int().positive(),
  /** Percentage of the SLA window the level fires at. */
  atPct: z.number(),
  /** Basis time the deal has waited in the stage, against the SLA target (same basis). */
  waitedMs: z.number().nonnegative(),
  slaMs: z.number().positive(),
  basis: z.enum(['business', 'calendar']),
  dueAt: z.number(),
  breached: z.boolean(),
  /** Why the level fired, from the playbook (the lead task's subject) or "SLA at 75 %"; never a value. */
  reason: z.string(),
  breachReason: BreachReason.nullable(),
  /** IANA zone of the stage's SLA calendar, so the page says the due time as the team reads clocks; absent: UTC. */
  timeZone: z.string().optional(),
});

export const PageResolution = z.enum(['stage_left', 'sla_met', 'deal_closed', 'sla_cancelled']);

export const TaskKind = z.enum(['action', 'remediation', 'warning', 'escalation', 'handoff', 'sla']);

/** A finished stage visit (the stage history row); its own schema so the history store can check rows by part. */
export const HistoryRowSchema = z.object({
  dealId: z.string(),
  pipeline: z.string(),
  stage: z.string(),
  ownerRole: z.string(),
  ownerId: z.string().nullable(),
  enteredAt: z.number(),
  exitedAt: z.number(),
  /**
   * Time in stage on the stage's SLA basis: staffed time on the SLA calendar for a business-time stage, wall
   * time for a calendar-time stage or one without an SLA.
   */
  businessMs: z.number(),
  toStage: z.string().nullable(),
  direction: z.enum(['forward', 'backward', 'exit']),
  slaOutcome: z.enum(['met', 'breached', 'none', 'cancelled']),
  breachReason: BreachReason.nullable(),
  /** When the visit breached and who set its reason; optional so rows written before them still parse. */
  breachedAt: z.number().nullable().optional(),
  breachReasonSource: z.enum(['inferred', 'manual']).nullable().optional(),
  /**
   * Set on the run of an event clock (`clocks:`): `stage` is then `clock.<id>`, `enteredAt` the run's start
   * and `businessMs` its counted time. The scorecard reports these per clock, apart from the stages.
   */
  clock: z.string().optional(),
  /** Labels of the evidence that decided the reason, and its counts (optional: older rows lack them). */
  breachEvidence: z.array(z.string()).optional(),
  breachFacts: BreachFacts.optional(),
  /** The inferred reason when a rep has since corrected it; with `corrections` the scorecard counts them. */
  inferredReason: BreachReason.nullable().optional(),
  /** Reason corrections by reps on this visit (who, when, from -> to), oldest first. */
  corrections: z
    .array(
      z.object({
        at: z.number(),
        userId: z.string().nullable(),
        from: BreachReason.nullable(),
        to: BreachReason,
      }),
    )
    .optional(),
  /** Values of the playbook's scorecard dimensions at exit (short tokens only), keyed by property. */
  dims: z.record(z.string(), z.string()).optional(),
  /** For a move into a closed stage with `closureReasons`: the reason recorded (003's closure reasons). */
  closureReason: z.string().optional(),
  /** What decided the visit (what-if replays); rows written before it replay as "unknown" where needed. */
  inputs: VisitInputs.optional(),
});

export const Command = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('createTask'),
    /** Idempotency key: the adapter creates at most one HubSpot task per key. */
    key: z.string(),
    kind: TaskKind,
    subject: z.string(),
    body: z.string(),
    dueAt: z.number(),
    ownerId: z.string().nullable(),
    priority: z.enum(['LOW', 'MEDIUM', 'HIGH']),
    taskType: z.enum(['CALL', 'EMAIL', 'TODO']),
  }),
  /** Mark a task done because its purpose was fulfilled (e.g. the SLA task when the stage is met). */
  z.object({ type: z.literal('completeTask'), key: z.string() }),
  /** Move an open task's due time (the SLA task when a pause or a playbook change moved the deadline). */
  z.object({ type: z.literal('rescheduleTask'), key: z.string(), dueAt: z.number() }),
  /** Close a task that no longer applies (deal left the stage); the reason goes into the task body. */
  z.object({ type: z.literal('cancelTask'), key: z.string(), reason: z.string() }),
  z.object({
    type: z.literal('scheduleTimer'),
    /** `${entryId}:${kind}` or `${entryId}:level:${i}`; rescheduling the same id replaces the job. */
    timerId: z.string(),
    kind: z.enum(['warning', 'breach', 'escalation']),
    level: z.number().int().optional(),
    entryId: z.string(),
    fireAt: z.number(),
  }),
  z.object({ type: z.literal('cancelTimer'), timerId: z.string() }),
  /** Deal property writes (HubSpot strings; "" clears). */
  z.object({ type: z.literal('setProperties'), properties: z.record(z.string(), z.string()) }),
  z.object({
    type: z.literal('moveStage'),
    toStage: z.string(),
    /** Set when the stage is in another pipeline than the deal's (a blocked cross-pipeline move going back). */
    toPipeline: z.string().optional(),
    reason: z.enum(['gate_revert', 'gate_remediation']),
  }),
  z.object({ type: z.literal('assignOwner'), ownerId: z.string(), reason: z.string() }),
  z.object({ type: z.literal('addNote'), key: z.string(), body: z.string() }),
  /** The role's round-robin pick was used: the service advances the role's cursor once the decision is saved. */
  z.object({ type: z.literal('advanceRoundRobin'), role: z.string() }),
  /**
   * Page the role's lead outside HubSpot. `key` (`<entryId>:level:<i>`) deduplicates per deal, stage entry and
   * level; `notBefore` holds the page to the role's staffed hours unless the level says "page now".
   */
  z.object({
    type: z.literal('page'),
    key: z.string(),
    entryId: z.string(),
    /** A configured channel id, or null for the portal's default channel. */
    channel: z.string().nullable(),
    notBefore: z.number(),
    facts: PageFacts,
  }),
  /** The paged stage visit is over (left, met, closed): PagerDuty incidents resolve, the trail says so. */
  z.object({ type: z.literal('resolvePage'), key: z.string(), entryId: z.string(), why: PageResolution }),
  /** A finished stage visit, for the scorecard's stage history. */
  z.object({
    type: z.literal('recordHistory'),
    row: HistoryRowSchema,
  }),
]);

/** Why the engine did what it did, for logs and the card's story (no property values). */
export const Decision = z.object({ rule: z.string(), detail: z.string() });

export const TimerFiring = z.object({
  timerId: z.string(),
  kind: z.enum(['warning', 'breach', 'escalation']),
  level: z.number().int().optional(),
  entryId: z.string(),
});

export type DealSnapshot = z.infer<typeof DealSnapshot>;
export type SlaClock = z.infer<typeof SlaClock>;
export type StageEntry = z.infer<typeof StageEntry>;
export type GateState = z.infer<typeof GateState>;
export type DealState = z.infer<typeof DealState>;
export type Command = z.infer<typeof Command>;
export type Decision = z.infer<typeof Decision>;
export type TimerFiring = z.infer<typeof TimerFiring>;
export type PageFacts = z.infer<typeof PageFacts>;
export type PageResolution = z.infer<typeof PageResolution>;
export type PageCommand = Extract<Command, { type: 'page' }>;
export type ResolvePageCommand = Extract<Command, { type: 'resolvePage' }>;
export type BreachFactsT = z.infer<typeof BreachFacts>;
export type HistoryRow = Extract<Command, { type: 'recordHistory' }>['row'];

export type EventClockRun = z.infer<typeof EventClockRun>;
export type TrailEvent = z.infer<typeof TrailEvent>;
export type Routing = z.infer<typeof Routing>;

/** What the service knows about the team for routing (the engine reads no Redis). */
export type RoutingInput = {
  /** Round-robin cursor per role id (how many picks the role has handed out). */
  cursors?: Record<string, number>;
  /** Open Stagekeeper tasks per owner id, for "fewestOpenTasks". */
  openTasks?: Record<string, number>;
};

export type EngineResult = {
  state: DealState | null;
  commands: Command[];
  decisions: Decision[];
  /** Owner ids whose open-task counts the decision needs ("fewestOpenTasks"); the service reads them and asks again. */
  needsOpenTasksOf?: string[];
};
