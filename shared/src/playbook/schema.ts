import Holidays from 'date-holidays';
import { IANAZone } from 'luxon';
import { z } from 'zod';
import { Duration } from './duration';
import { checkReachableTargets } from './reachable';

/** "HH:MM" on a 24-hour clock; "24:00" is allowed as an interval end (a day that ends at midnight). */
const ClockTime = z
  .string()
  .regex(/^([01]\d|2[0-3]):[0-5]\d$|^24:00$/, 'expected a time like "08:00" or "24:00"');
const LOCAL_DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
// Date.parse rolls "2026-02-30" over into March instead of rejecting it, so the date must survive a round trip.
const isRealDate = (s: string) => {
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
};
const LocalDate = z
  .string()
  .regex(LOCAL_DATE_RE, 'expected a local date like "2026-12-25"')
  // A malformed string already failed the regex; reporting it twice as "not a real date" is noise.
  .refine((s) => !LOCAL_DATE_RE.test(s) || isRealDate(s), 'expected a real calendar date');
const Id = z.string().min(1).max(100);

// ---------------------------------------------------------------------------------------------------------
// Calendars

/**
 * A staffed interval on one weekday. An `end` earlier than (or equal to) `start` is an overnight shift that
 * runs into the next day; "24:00" ends exactly at midnight.
 */
export const Interval = z.object({ start: ClockTime, end: ClockTime }).strict();

const Weekdays = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export const Weekday = z.enum(Weekdays);
export const WEEKDAYS = Weekdays;

export const WeeklyHours = z
  .object(
    Object.fromEntries(Weekdays.map((d) => [d, z.array(Interval).default([])])) as {
      [K in (typeof Weekdays)[number]]: z.ZodDefault<z.ZodArray<typeof Interval>>;
    },
  )
  .strict();

export const Holiday = z.union([
  LocalDate,
  z.object({ date: LocalDate, name: z.string().optional() }).strict(),
]);

export const HolidaySet = z
  .object({
    country: z.string().regex(/^[A-Z]{2}$/, 'expected an ISO 3166 country code like "US"'),
    state: z.string().optional(),
    region: z.string().optional(),
    /** date-holidays types to close on; "public" by default. */
    types: z.array(z.enum(['public', 'bank', 'school', 'optional', 'observance'])).default(['public']),
  })
  .strict();

export const Calendar = z
  .object({
    id: Id,
    timeZone: z.string().refine((tz) => IANAZone.isValidZone(tz), {
      message: 'expected an IANA time zone like "America/New_York"',
    }),
    /** "24/7" makes the calendar always open (holidays still close it). */
    hours: z.union([z.literal('24/7'), WeeklyHours]),
    /** Local dates on which the calendar is closed for the whole day, overnight shifts included. */
    holidays: z.array(Holiday).default([]),
    holidaySet: HolidaySet.optional(),
  })
  .strict();

// ---------------------------------------------------------------------------------------------------------
// Roles

export const Role = z
  .object({
    id: Id,
    name: z.string().min(1),
    /** HubSpot owner ids (strings, as HubSpot sends them) who hold the role. */
    owners: z.array(z.string().regex(/^\d+$/, 'expected a HubSpot owner id (digits)')).default([]),
    /** HubSpot team ids whose members hold the role. */
    teams: z.array(z.string().regex(/^\d+$/, 'expected a HubSpot team id (digits)')).default([]),
    /** The role's lead: the owner escalations go to. */
    lead: z.string().regex(/^\d+$/, 'expected a HubSpot owner id (digits)'),
    /** Calendar the role is staffed on; warnings and escalations to it wait for its next staffed minute. */
    calendar: Id.optional(),
    /**
     * Capacity threshold: an owner of this role holding more open tasks than `openTasks` at a breach is over
     * capacity (breach reason "capacity"). Omitted: capacity is never the inferred reason for this role's stages.
     */
    capacity: z.object({ openTasks: z.number().int().nonnegative() }).strict().optional(),
  })
  .strict()
  .refine((r) => r.owners.length + r.teams.length > 0, {
    message: 'a role needs at least one owner or team',
  });

// ---------------------------------------------------------------------------------------------------------
// Criteria (entry, exit, SLA overrides, pause conditions)

const PropertyName = z
  .string()
  .regex(/^[a-z0-9_]+$/, 'expected a HubSpot property internal name like "dealname"');
const label = z.string().min(1).optional();

/**
 * Date.parse alone accepts "March 7" or "1", and reads a date-time without an offset in the server's own time
 * zone; a comparison value must mean the same instant on every machine, so an offset (or "Z") is required.
 */
const IsoDateOrInstant = z
  .string()
  .refine(
    (s) =>
      (LOCAL_DATE_RE.test(s) && isRealDate(s)) ||
      (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(s) &&
        isRealDate(s.slice(0, 10)) &&
        !Number.isNaN(Date.parse(s))),
    'expected an ISO date like "2026-03-01" or a date-time with an offset like "2026-03-01T09:00:00Z"',
  );

export const Criterion = z.discriminatedUnion('op', [
  z.object({ op: z.literal('present'), property: PropertyName, label }).strict(),
  z.object({ op: z.literal('equals'), property: PropertyName, value: z.string(), label }).strict(),
  z.object({ op: z.literal('notEquals'), property: PropertyName, value: z.string(), label }).strict(),
  z
    .object({ op: z.literal('oneOf'), property: PropertyName, values: z.array(z.string()).min(1), label })
    .strict(),
  z
    .object({ op: z.enum(['gt', 'gte', 'lt', 'lte']), property: PropertyName, value: z.number(), label })
    .strict(),
  /** Date comparisons against a fixed ISO date or instant. */
  z
    .object({
      op: z.enum(['dateBefore', 'dateAfter']),
      property: PropertyName,
      value: IsoDateOrInstant,
      label,
    })
    .strict(),
  /** The property holds an instant later than "now" (e.g. a next-action timestamp). */
  z.object({ op: z.literal('inFuture'), property: PropertyName, label }).strict(),
  /** A required task (by its template id in this stage's requiredActions) is completed. */
  z.object({ op: z.literal('taskDone'), task: Id, label }).strict(),
]);

// ---------------------------------------------------------------------------------------------------------
// Required actions (task templates)

export const TaskTemplate = z
  .object({
    id: Id,
    subject: z.string().min(1).max(255),
    body: z.string().max(65_536).optional(),
    type: z.enum(['CALL', 'EMAIL', 'TODO']).default('TODO'),
    priority: z.enum(['LOW', 'MEDIUM', 'HIGH']).default('MEDIUM'),
    /**
     * When the task is due, measured from stage entry. Omitted: due at the SLA deadline (or, for a stage
     * without an SLA, at entry).
     */
    dueAfter: Duration.optional(),
    /** Whether `dueAfter` counts staffed time on the stage's calendar or plain calendar time. */
    basis: z.enum(['business', 'calendar']).default('business'),
    /** Who gets the task: the deal owner, or the stage role's lead. */
    assignee: z.enum(['owner', 'lead']).default('owner'),
  })
  .strict();

// ---------------------------------------------------------------------------------------------------------
// SLA

export const EscalationAction = z.discriminatedUnion('type', [
  /** A high-priority task for the deal owner saying the SLA is at risk or breached. */
  z.object({ type: z.literal('notifyOwner') }).strict(),
  /** A task for the role's lead. */
  z.object({ type: z.literal('taskForLead'), subject: z.string().max(255).optional() }).strict(),
  /** Reassign the deal to the role's lead. */
  z.object({ type: z.literal('reassignToLead') }).strict(),
  /** Set a deal property (e.g. a priority flag). */
  z.object({ type: z.literal('setProperty'), property: PropertyName, value: z.string() }).strict(),
]);

/**
 * Paging the role's lead outside HubSpot (Slack, Teams, PagerDuty, a signed webhook). A level whose actions go to
 * the lead (`taskForLead`, `reassignToLead`) pages through the portal's default channel without this block, so
 * playbooks need no edit; the block picks another channel, turns paging off, or pages outside staffed hours.
 */
export const EscalationPage = z
  .object({
    /** A channel id configured for the portal (settings page or CLI); omitted: the portal's default channel. */
    channel: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, 'expected a channel id like "clinical-slack"')
      .optional(),
    /** false: this level never pages (the HubSpot task alone). */
    enabled: z.boolean().optional(),
    /** Page at once even when the role is not staffed (pages otherwise wait for the role's next staffed minute). */
    now: z.boolean().optional(),
  })
  .strict();

export const EscalationLevel = z
  .object({
    /** Percentage of the SLA window at which the level fires; 100 is the breach, more is past it. */
    at: z.number().positive().max(1000),
    actions: z.array(EscalationAction).min(1),
    page: EscalationPage.optional(),
  })
  .strict();

export const SlaOverride = z
  .object({
    /** All criteria must hold for the override to apply; the first matching override wins. */
    when: z.array(Criterion).min(1),
    target: Duration,
    basis: z.enum(['business', 'calendar']).optional(),
  })
  .strict();

export const Sla = z
  .object({
    target: Duration,
    basis: z.enum(['business', 'calendar']).default('business'),
    /** Calendar id; required for business time, and used to deliver notices in staffed hours. */
    calendar: Id.optional(),
    overrides: z.array(SlaOverride).default([]),
    /** The clock pauses while any of these holds (e.g. waiting_on = patient). */
    pauseWhen: z.array(Criterion).default([]),
    /** Percentage of the window at which the owner is warned. */
    warningAt: z.number().min(1).max(99).default(75),
    escalations: z.array(EscalationLevel).default([]),
    /** Warnings and escalations that fall outside staffed hours wait for the next staffed minute. */
    noticesInStaffedHours: z.boolean().default(true),
  })
  .strict()
  .refine((s) => s.basis === 'calendar' || s.calendar !== undefined, {
    message: 'a business-time SLA needs a calendar',
    path: ['calendar'],
  });

// ---------------------------------------------------------------------------------------------------------
// Gates and breach reasons

export const Gate = z.discriminatedUnion('onBlocked', [
  /** Move the deal back to the stage it came from. */
  z.object({ onBlocked: z.literal('revert') }).strict(),
  /** Move the deal to a remediation stage of the same pipeline. */
  z.object({ onBlocked: z.literal('remediate'), stage: Id }).strict(),
]);

export const BREACH_REASONS = [
  'capacity',
  'missing_data',
  'handoff',
  'patient_unreachable',
  'other',
] as const;
export const BreachReason = z.enum(BREACH_REASONS);

/** Why a lead ends, from the documented closure-reason list (seed 003: no response, not a fit, duplicate, out of coverage). */
export const CLOSURE_REASONS = ['no_response', 'not_a_fit', 'duplicate', 'out_of_coverage'] as const;
export const ClosureReason = z.enum(CLOSURE_REASONS);

/**
 * Evidence the engine can see at breach time; a rule matches when all its given conditions hold. A rule naming a
 * reason other than "other" must name at least one condition: a reason without evidence is a guess.
 */
export const BreachReasonRule = z
  .object({
    reason: BreachReason,
    /** A *data* exit criterion of the stage (a property test, not a `taskDone`) still unmet at breach. */
    missingData: z.boolean().optional(),
    /** Same as `missingData` (the older name; an action not yet done is not missing data). */
    missingExitCriteria: z.boolean().optional(),
    /** The deal changed owner during the visit. */
    ownerChanged: z.boolean().optional(),
    noOwner: z.boolean().optional(),
    /** The deal's owner is not one of the stage role's owners (known only when the role lists owners, not teams). */
    ownerOutsideRole: z.boolean().optional(),
    /** At least this many contact attempts logged in the window without a response. */
    unansweredContactAttempts: z.number().int().positive().optional(),
    /** The owner had at least this many open tasks at breach. */
    ownerOpenTasksAtLeast: z.number().int().positive().optional(),
    /** The owner had more open tasks at breach than the stage role's `capacity.openTasks`. */
    overCapacity: z.boolean().optional(),
  })
  .strict()
  .refine((r) => r.reason === 'other' || Object.keys(r).some((k) => k !== 'reason'), {
    message:
      'a breach-reason rule needs at least one condition (only "other" may have none): a reason without evidence is a guess',
  });

/** The older default rule list, kept for callers that name it; the engine now uses `BreachRules` below. */
export const DEFAULT_BREACH_RULES: z.input<typeof BreachReasonRule>[] = [
  { reason: 'patient_unreachable', unansweredContactAttempts: 2 },
  { reason: 'missing_data', missingData: true },
  { reason: 'handoff', noOwner: true },
  { reason: 'handoff', ownerChanged: true },
  { reason: 'capacity', ownerOpenTasksAtLeast: 15 },
];

/** Reasons an evidence rule can name ("other" is what is left when none holds). */
export const EVIDENCED_REASONS = ['patient_unreachable', 'handoff', 'capacity', 'missing_data'] as const;

/**
 * How the engine infers a breach reason when a stage lists no rules of its own (docs/breach-reasons.md): each
 * reason has one evidence test, tried in `precedence` order; the first that holds names the reason, none -> other.
 */
export const BreachRules = z
  .object({
    precedence: z
      .array(z.enum(EVIDENCED_REASONS))
      .min(1)
      .refine((l) => new Set(l).size === l.length, 'each reason appears once')
      .default(['patient_unreachable', 'handoff', 'capacity', 'missing_data']),
    /** Contact attempts since entry, with no inbound reply since entry, that make the patient unreachable. */
    unreachableAfterAttempts: z.number().int().positive().default(2),
  })
  .strict();

// ---------------------------------------------------------------------------------------------------------
// Stages, pipelines, playbook

export const Stage = z
  .object({
    /** HubSpot's internal stage id (a string, e.g. "appointmentscheduled" or "3206386937"). */
    id: Id,
    label: z.string().min(1),
    /** Accountable role id. */
    ownerRole: Id,
    entryCriteria: z.array(Criterion).default([]),
    exitCriteria: z.array(Criterion).default([]),
    requiredActions: z.array(TaskTemplate).default([]),
    sla: Sla.optional(),
    /** What happens when a forward move into this stage is blocked; the pipeline default applies if omitted. */
    gate: Gate.optional(),
    breachReasons: z.array(BreachReasonRule).optional(),
    /** A closed stage: entering it completes the journey (no SLA, no forward gate beyond it). */
    closed: z.boolean().default(false),
    /**
     * Closed stages only: entering needs one of these reasons in the written-back closure-reason property (an
     * enumeration Stagekeeper provisions, so reports can group closed deals by why they closed).
     */
    closureReasons: z.array(ClosureReason).min(1).optional(),
    /**
     * Closed stages only: the journey ended without the outcome (Not Qualified, Denied, Referral Declined). A move
     * into it is drop-off, not conversion, in the scorecard.
     */
    closedLost: z.boolean().optional(),
  })
  .strict();

/**
 * A forward move the pipeline allows to skip the stages between `from` and `to` without their exit criteria. The
 * exit criteria of `from` and the entry criteria of `to` still apply.
 */
export const Shortcut = z.object({ from: Id, to: Id, reason: z.string().min(1).optional() }).strict();

export const Pipeline = z
  .object({
    /** HubSpot's internal pipeline id ("default" for the default pipeline). */
    id: Id,
    label: z.string().min(1),
    /** Stages in journey order: a move to a later stage is forward, to an earlier one is backflow. */
    stages: z.array(Stage).min(1),
    gate: Gate.default({ onBlocked: 'revert' }),
    /** Forward skips allowed without the skipped stages' exit criteria; every other skip must meet them. */
    shortcuts: z.array(Shortcut).default([]),
    /**
     * Backward moves that are the journey working as designed (Refill Due -> Active Care), not rework: the
     * scorecard does not count them as backflow.
     */
    loops: z.array(z.object({ from: Id, to: Id, reason: z.string().min(1).optional() }).strict()).optional(),
  })
  .strict();

export const Signals = z
  .object({
    /** Deal property counting logged contact attempts (HubSpot's own: num_contacted_notes). */
    contactAttempts: PropertyName.default('num_contacted_notes'),
    /** Deal property with the last inbound reply from the patient. */
    lastInboundReply: PropertyName.optional(),
  })
  .strict();

/**
 * The intake funnel behind 003's and 004's metrics (docs/scorecard.md): which stage receives a lead or referral
 * (its forward exit is the first touch, as its exit criteria say), which stages mean the intake was incomplete
 * or an appointment was booked, and the dimension holding the referring partner (re-referral within 30 days).
 */
export const Funnel = z
  .object({
    received: Id,
    incomplete: z.array(Id).default([]),
    booked: z.array(Id).default([]),
    partner: PropertyName.optional(),
  })
  .strict();

// ---------------------------------------------------------------------------------------------------------
// Clocks started by events (seed 000's care-continuity SLAs: support inquiry response, refill follow-up)

/** A change of one deal property that starts or stops an event clock. */
export const ClockTrigger = z
  .object({
    property: PropertyName,
    /** set: empty -> a value; change: any new value (a new inquiry); cleared: a value -> empty. */
    on: z.enum(['set', 'change', 'cleared']),
  })
  .strict();

export const EventClock = z
  .object({
    /** Goes into timer and task keys, so letters, digits and "_" only. */
    id: z.string().regex(/^[a-z0-9_]{1,40}$/, 'expected a clock id like "support_inquiry" (a-z, 0-9, _)'),
    label: z.string().min(1).max(120),
    /** Accountable role: escalations go to its lead, and a deal without owner gives it the work. Default: the stage's role. */
    role: Id.optional(),
    /** Only deals in these pipelines; all managed pipelines when omitted. */
    pipelines: z.array(Id).optional(),
    start: ClockTrigger.refine((t) => t.on !== 'cleared', {
      message: 'a clock starts on "set" or "change"',
      path: ['on'],
    }),
    /**
     * Where the clock starts: when Stagekeeper sees the trigger ("seen"), or at the instant the trigger property
     * holds ("value", for a datetime such as the time the inquiry arrived), so a late webhook gives nobody extra time.
     */
    startAt: z.enum(['seen', 'value']).default('seen'),
    /** The clock stops when any of these property changes happens after it started... */
    stopOn: z.array(ClockTrigger).default([]),
    /** ...or when any of these criteria holds. */
    stopWhen: z.array(Criterion).default([]),
    sla: Sla,
  })
  .strict()
  .refine((c) => c.stopOn.length + c.stopWhen.length > 0, {
    message: 'a clock needs stopOn or stopWhen',
    path: ['stopOn'],
  })
  // A page names a stage and resolves when the deal leaves it; an event clock run has neither, so a page block
  // here would be silently ignored. Refused instead, so nobody counts on a page that never goes out.
  .superRefine((c, ctx) =>
    c.sla.escalations.forEach((level, i) => {
      if (level.page)
        ctx.addIssue({
          code: 'custom',
          path: ['sla', 'escalations', i, 'page'],
          message: 'event clocks do not page; their escalations are HubSpot tasks (remove "page")',
        });
    }),
  );

// ---------------------------------------------------------------------------------------------------------
// Work follows the accountable role (seed 000: "one stage, one accountable role")

export const AssignmentRule = z
  .object({
    /**
     * What happens when a deal enters a stage whose role does not include its owner: keep the owner; hand the
     * deal to a role member; or leave the deal with its owner and give only the stage's tasks to a member.
     */
    policy: z.enum(['keep', 'assignDeal', 'assignTasks']),
    /** How the member is chosen; a role without owners listed goes to its lead. */
    pick: z.enum(['roundRobin', 'fewestOpenTasks']).default('roundRobin'),
    /** A note on the deal telling the previous owner who has it now. */
    handoffNote: z.boolean().default(true),
  })
  .strict();

export const Assignment = AssignmentRule.extend({
  /** Per-stage exceptions (by stage id); anything not given comes from the playbook-level rule. */
  stages: z.record(Id, AssignmentRule.partial().strict()).default({}),
}).strict();

export const PlaybookObject = z
  .object({
    /** Format version of the playbook file. */
    schemaVersion: z.literal(1),
    name: z.string().min(1),
    /** Increases with every saved edit; clocks already running are recomputed under the new version. */
    version: z.number().int().nonnegative().default(1),
    calendars: z.array(Calendar).min(1),
    roles: z.array(Role).min(1),
    pipelines: z.array(Pipeline).min(1),
    signals: Signals.default({ contactAttempts: 'num_contacted_notes' }),
    /** SLA clocks started and stopped by deal property changes, independent of stage entry. */
    clocks: z.array(EventClock).default([]),
    /** Who gets the work when a deal enters a stage whose role does not include its owner; "keep" if omitted. */
    assignment: Assignment.optional(),
    /**
     * Deal properties the scorecard cuts by (urgency, channel, lead type, referring partner). Each visit records
     * the property's value at exit when it is a short token (an enumeration value or an id, never free text).
     */
    scorecard: z
      .object({
        dimensions: z
          .array(z.object({ property: PropertyName, label: z.string().min(1) }).strict())
          .max(8)
          .default([]),
        funnel: Funnel.optional(),
      })
      .strict()
      .optional(),
    /** Precedence and thresholds of the breach-reason evidence rules (stages without their own `breachReasons`); omitted: the defaults. */
    breachRules: BreachRules.optional(),
  })
  .strict();

type PlaybookShape = z.output<typeof PlaybookObject>;

/** Cross-references: every id a playbook uses must be defined in it, and ids must be unique. */
function checkReferences(p: PlaybookShape, ctx: z.RefinementCtx): void {
  const issue = (path: (string | number)[], message: string) =>
    ctx.addIssue({ code: 'custom', path, message });
  const unique = <T extends { id: string }>(items: T[], path: (string | number)[], what: string) => {
    const seen = new Set<string>();
    items.forEach((item, i) => {
      if (seen.has(item.id)) issue([...path, i, 'id'], `duplicate ${what} id "${item.id}"`);
      seen.add(item.id);
    });
  };
  unique(p.calendars, ['calendars'], 'calendar');
  unique(p.roles, ['roles'], 'role');
  unique(p.pipelines, ['pipelines'], 'pipeline');
  const calendars = new Set(p.calendars.map((c) => c.id));
  const roles = new Set(p.roles.map((r) => r.id));
  const known = (set: Set<string>) => [...set].map((s) => `"${s}"`).join(', ');

  p.calendars.forEach((c, i) => checkCalendar(c, ['calendars', i], issue));
  checkClocksAndAssignment(p, issue, roles, calendars, known);

  p.roles.forEach((r, i) => {
    if (r.calendar && !calendars.has(r.calendar))
      issue(['roles', i, 'calendar'], `unknown calendar "${r.calendar}" (known: ${known(calendars)})`);
  });

  const funnel = p.scorecard?.funnel;
  if (funnel) {
    const all = new Set(p.pipelines.flatMap((pl) => pl.stages.map((s) => s.id)));
    const at = ['scorecard', 'funnel'];
    if (!all.has(funnel.received)) issue([...at, 'received'], `unknown stage "${funnel.received}"`);
    (['incomplete', 'booked'] as const).forEach((key) =>
      funnel[key].forEach((id, i) => {
        if (!all.has(id)) issue([...at, key, i], `unknown stage "${id}"`);
      }),
    );
    // Rows record only declared dimensions, so the partner must be one of them.
    if (funnel.partner && !p.scorecard?.dimensions.some((d) => d.property === funnel.partner))
      issue(
        [...at, 'partner'],
        `"${funnel.partner}" must be one of scorecard.dimensions: visits record only those`,
      );
  }

  const stageIdsAcrossPipelines = new Map<string, number>();
  p.pipelines.forEach((pl, pi) => {
    unique(pl.stages, ['pipelines', pi, 'stages'], 'stage');
    const stages = new Map(pl.stages.map((s, i) => [s.id, i]));
    const checkGate = (
      gate: z.output<typeof Gate> | undefined,
      path: (string | number)[],
      ownIndex?: number,
    ) => {
      if (gate?.onBlocked !== 'remediate') return;
      if (!stages.has(gate.stage))
        issue([...path, 'stage'], `unknown remediation stage "${gate.stage}" in pipeline "${pl.id}"`);
      else if (gate.stage === pl.stages[ownIndex ?? -1]?.id)
        issue([...path, 'stage'], 'a stage cannot be its own remediation stage');
    };
    checkGate(pl.gate, ['pipelines', pi, 'gate']);
    pl.loops?.forEach((lp, i) => {
      const at = ['pipelines', pi, 'loops', i];
      const from = stages.get(lp.from);
      const to = stages.get(lp.to);
      if (from === undefined) issue([...at, 'from'], `unknown stage "${lp.from}" in pipeline "${pl.id}"`);
      if (to === undefined) issue([...at, 'to'], `unknown stage "${lp.to}" in pipeline "${pl.id}"`);
      if (from !== undefined && to !== undefined && to >= from)
        issue([...at, 'to'], `a loop goes back: "${lp.to}" must come before "${lp.from}"`);
    });
    pl.shortcuts.forEach((sc, i) => {
      const at = ['pipelines', pi, 'shortcuts', i];
      const from = stages.get(sc.from);
      const to = stages.get(sc.to);
      if (from === undefined) issue([...at, 'from'], `unknown stage "${sc.from}" in pipeline "${pl.id}"`);
      if (to === undefined) issue([...at, 'to'], `unknown stage "${sc.to}" in pipeline "${pl.id}"`);
      if (from !== undefined && to !== undefined && to <= from + 1)
        issue(
          [...at, 'to'],
          `a shortcut skips stages: "${sc.to}" must come at least two stages after "${sc.from}"`,
        );
    });
    pl.stages.forEach((s, si) => {
      const at = ['pipelines', pi, 'stages', si];
      const other = stageIdsAcrossPipelines.get(s.id);
      if (other !== undefined && other !== pi)
        issue(
          [...at, 'id'],
          `stage id "${s.id}" is also used in pipelines[${other}]; HubSpot stage ids are unique`,
        );
      stageIdsAcrossPipelines.set(s.id, pi);
      if (!roles.has(s.ownerRole))
        issue([...at, 'ownerRole'], `unknown role "${s.ownerRole}" (known: ${known(roles)})`);
      checkGate(s.gate, [...at, 'gate'], si);
      if (s.sla?.calendar && !calendars.has(s.sla.calendar))
        issue(
          [...at, 'sla', 'calendar'],
          `unknown calendar "${s.sla.calendar}" (known: ${known(calendars)})`,
        );
      if (s.closed && s.sla) issue([...at, 'sla'], 'a closed stage cannot have an SLA');
      if (s.closureReasons && !s.closed)
        issue([...at, 'closureReasons'], 'only a closed stage takes closure reasons');
      if (s.closedLost && !s.closed) issue([...at, 'closedLost'], 'only a closed stage can be closed-lost');
      const tasks = new Set(s.requiredActions.map((t) => t.id));
      unique(s.requiredActions, [...at, 'requiredActions'], 'task template');
      (['entryCriteria', 'exitCriteria'] as const).forEach((key) =>
        s[key].forEach((c, ci) => {
          if (c.op !== 'taskDone') return;
          // The gate checks entry criteria before the visit exists, so a task can never be done by then.
          if (key === 'entryCriteria')
            issue(
              [...at, key, ci, 'op'],
              'taskDone is only possible in exitCriteria: a stage creates its tasks on entry',
            );
          else if (!tasks.has(c.task))
            issue(
              [...at, key, ci, 'task'],
              `unknown task "${c.task}": name one of this stage's requiredActions`,
            );
        }),
      );
      s.sla?.overrides.forEach((o, oi) => {
        // The SLA-level refinement only sees the SLA's own basis; an override can switch to business time.
        if (o.basis === 'business' && s.sla?.calendar === undefined)
          issue(
            [...at, 'sla', 'overrides', oi, 'basis'],
            "a business-time override needs the SLA's calendar",
          );
      });
      checkReachableTargets(s, at, p.calendars, WEEKDAYS, issue);
      const levels = s.sla?.escalations ?? [];
      levels.forEach((l, li) => {
        if (li > 0 && l.at <= levels[li - 1]!.at)
          issue(
            [...at, 'sla', 'escalations', li, 'at'],
            `escalation levels must be in increasing order of "at": expected more than ${levels[li - 1]!.at}, got ${l.at}`,
          );
      });
    });
  });
}

type Path = (string | number)[];

function checkClocksAndAssignment(
  p: PlaybookShape,
  issue: (path: Path, message: string) => void,
  roles: Set<string>,
  calendars: Set<string>,
  known: (set: Set<string>) => string,
): void {
  const seen = new Set<string>();
  const pipelines = new Set(p.pipelines.map((pl) => pl.id));
  p.clocks.forEach((c, i) => {
    const at = ['clocks', i];
    if (seen.has(c.id)) issue([...at, 'id'], `duplicate clock id "${c.id}"`);
    seen.add(c.id);
    if (c.role && !roles.has(c.role))
      issue([...at, 'role'], `unknown role "${c.role}" (known: ${known(roles)})`);
    c.pipelines?.forEach((pl, pi) => {
      if (!pipelines.has(pl))
        issue([...at, 'pipelines', pi], `unknown pipeline "${pl}" (known: ${known(pipelines)})`);
    });
    if (c.sla.calendar && !calendars.has(c.sla.calendar))
      issue([...at, 'sla', 'calendar'], `unknown calendar "${c.sla.calendar}" (known: ${known(calendars)})`);
    c.sla.overrides.forEach((o, oi) => {
      if (o.basis === 'business' && c.sla.calendar === undefined)
        issue([...at, 'sla', 'overrides', oi, 'basis'], "a business-time override needs the SLA's calendar");
    });
    const criteria = [...c.stopWhen, ...c.sla.pauseWhen, ...c.sla.overrides.flatMap((o) => o.when)];
    if (criteria.some((x) => x.op === 'taskDone'))
      issue([...at, 'stopWhen'], 'taskDone names a stage task; a clock cannot use it');
    c.sla.escalations.forEach((l, li) => {
      const prev = c.sla.escalations[li - 1];
      if (prev && l.at <= prev.at)
        issue(
          [...at, 'sla', 'escalations', li, 'at'],
          `escalation levels must be in increasing order of "at": expected more than ${prev.at}, got ${l.at}`,
        );
    });
  });
  const stageIds = new Set(p.pipelines.flatMap((pl) => pl.stages.map((s) => s.id)));
  for (const id of Object.keys(p.assignment?.stages ?? {}))
    if (!stageIds.has(id)) issue(['assignment', 'stages', id], `unknown stage "${id}"`);
}

// Only the list of known countries, states and regions is read, so one instance serves every parse.
let catalog: Holidays | undefined;
const holidayCatalog = () => (catalog ??= new Holidays());

function checkCalendar(
  c: z.output<typeof Calendar>,
  at: Path,
  issue: (path: Path, message: string) => void,
): void {
  if (c.hours !== '24/7') {
    const hours = c.hours;
    // A calendar that is never staffed would leave every business-time clock waiting forever.
    if (WEEKDAYS.every((d) => hours[d].length === 0))
      issue([...at, 'hours'], 'a calendar needs at least one staffed interval (or "24/7")');
    WEEKDAYS.forEach((d) =>
      hours[d].forEach((iv, ii) => {
        if (iv.start === '24:00')
          issue(
            [...at, 'hours', d, ii, 'start'],
            'an interval cannot start at "24:00": start the next day at "00:00"',
          );
      }),
    );
  }
  const set = c.holidaySet;
  if (!set) return;
  // date-holidays accepts any code and then silently returns no holidays (e.g. "UK" for "GB"), so check first.
  const hd = holidayCatalog();
  const countries = hd.getCountries() ?? {};
  if (!Object.hasOwn(countries, set.country)) {
    issue(
      [...at, 'holidaySet', 'country'],
      `unknown holiday country "${set.country}" (date-holidays has no such code)`,
    );
    return;
  }
  if (set.state === undefined) {
    if (set.region !== undefined) issue([...at, 'holidaySet', 'region'], 'a holiday region needs a state');
    return;
  }
  const states = hd.getStates(set.country) ?? {};
  if (!Object.hasOwn(states, set.state)) {
    const known = Object.keys(states);
    issue(
      [...at, 'holidaySet', 'state'],
      `unknown holiday state "${set.state}" for ${set.country}` +
        (known.length ? ` (known: ${known.slice(0, 12).join(', ')}${known.length > 12 ? ', ...' : ''})` : ''),
    );
    return;
  }
  if (set.region !== undefined && !Object.hasOwn(hd.getRegions(set.country, set.state) ?? {}, set.region))
    issue(
      [...at, 'holidaySet', 'region'],
      `unknown holiday region "${set.region}" for ${set.country}-${set.state}`,
    );
}

export const Playbook = PlaybookObject.superRefine(checkReferences);

export type Playbook = z.output<typeof Playbook>;
export type PlaybookInput = z.input<typeof Playbook>;
export type Calendar = z.output<typeof Calendar>;
export type Interval = z.output<typeof Interval>;
export type Role = z.output<typeof Role>;
export type Criterion = z.output<typeof Criterion>;
export type TaskTemplate = z.output<typeof TaskTemplate>;
export type Sla = z.output<typeof Sla>;
export type EscalationLevel = z.output<typeof EscalationLevel>;
export type EscalationAction = z.output<typeof EscalationAction>;
export type EscalationPage = z.output<typeof EscalationPage>;
export type Gate = z.output<typeof Gate>;
export type BreachReason = z.output<typeof BreachReason>;
export type BreachReasonRule = z.output<typeof BreachReasonRule>;
export type BreachRules = z.output<typeof BreachRules>;
export type ClosureReason = z.output<typeof ClosureReason>;
export type Shortcut = z.output<typeof Shortcut>;
export type Stage = z.output<typeof Stage>;
export type Pipeline = z.output<typeof Pipeline>;
export type ClockTrigger = z.output<typeof ClockTrigger>;
export type EventClock = z.output<typeof EventClock>;
export type AssignmentRule = z.output<typeof AssignmentRule>;
export type Assignment = z.output<typeof Assignment>;
