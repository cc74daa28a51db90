import { businessTimeBetween, compileCalendar, type CompiledCalendar } from '../clock';
import {
  criterionHolds,
  criterionLabel,
  entryCriteriaOf,
  findStage,
  gateMissing,
  nextStep,
  skippedStages,
  templateDueAt,
} from '../engine';
import type { DealSnapshot, DealState, EventClockRun, HistoryRow, SlaClock, StageEntry } from '../engine';
import { visitKey, wasCorrected } from '../engine/reason-correction';
import { formatDuration, parseDuration } from '../playbook/duration';
import type { BreachReason, Criterion, Pipeline, Playbook, Stage } from '../playbook/schema';
import { P } from '../properties';

/**
 * The deal card's view model (docs/hubspot-app.md §4.2), built from stored state plus a snapshot read at request
 * time. Everything shown is a label from the playbook or an instant/duration: deal property values never leave
 * the service through this view (they may be health data).
 */

export type Ref = { id: string; label: string };
export type CardSlaStatus =
  'running' | 'paused' | 'warning' | 'breached' | 'met' | 'breached_closed' | 'cancelled';
export type BreachSource = 'inferred' | 'manual';

export type CardSla = {
  status: CardSlaStatus;
  basis: 'business' | 'calendar';
  target: string;
  targetMs: number;
  elapsedMs: number;
  remainingMs: number;
  dueAt: string;
  originalDueAt: string;
  warningAt: string;
  breachedAt: string | null;
  pausedAt: string | null;
  pauseReason: string | null;
  metAt: string | null;
};

export type CardGate = {
  status: 'clear' | 'blocked_reverted' | 'blocked_remediation';
  blockedFrom: Ref | null;
  blockedTo: Ref | null;
  movedTo: Ref | null;
  at: string | null;
  missing: string[];
  remedy: string | null;
};

/** A required action of the stage (a task Stagekeeper created on entry): done, or open and when it is due. */
export type CardAction = {
  id: string;
  subject: string;
  status: 'open' | 'done';
  dueAt: string;
  overdue: boolean;
};

/** What the usual next move needs that the deal does not have yet (labels only), before anyone tries it. */
export type CardNextMove = { to: Ref; missing: string[] };

export type CardBreach = {
  stage: Ref;
  breachedAt: string;
  reason: BreachReason | null;
  source: BreachSource | null;
  /** The visit (`${dealId}:${stage}:${enteredAt}`): the card posts it to correct this breach's reason. */
  entryId: string;
  /** What decided the inferred reason (labels), and whether a rep has corrected it. */
  evidence: string[];
  corrected: boolean;
};

/**
 * One escalation page as the card lists it (issue 17): which level of which stage, through which channel, and
 * what became of it. Built by the service from the deal's paging trail.
 */
export type CardPage = {
  level: number;
  stage: string;
  channel: string | null;
  status: 'held' | 'queued' | 'sent' | 'failed' | 'no_channel' | 'resolved';
  /** When the status last changed. */
  at: string;
  /** e.g. "channel_not_found" for a failure, "stage_left" for a resolution; never a service's message. */
  detail: string | null;
};

/** §4.2: the card lists at most this many pages (newest). */
export const MAX_CARD_PAGES = 20;

export type ManagedCardView = {
  managed: true;
  dealId: string;
  playbookVersion: number;
  pipeline: Ref;
  stage: Ref & { enteredAt: string };
  ownerRole: { id: string; name: string };
  sla: CardSla | null;
  exitChecklist: { label: string; met: boolean }[];
  /** The stage's required actions, in playbook order. */
  requiredActions: CardAction[];
  /** "To move to <next stage>": unmet exit criteria of this stage (and of stages between) and entry criteria there. */
  nextMove: CardNextMove | null;
  gate: CardGate;
  breachReason: { value: BreachReason; source: BreachSource; evidence: string[] } | null;
  breaches: CardBreach[];
  watchProperties: string[];
  eventClocks: CardEventClock[];
  routing: CardRouting | null;
  trail: CardTrailEvent[];
  /** Escalation pages of this deal, oldest first; absent when the service has no paging trail to show. */
  pages?: CardPage[];
};

/** An event clock's latest run (playbook `clocks:`): support inquiry response, refill follow-up, ... */
export type CardEventClock = {
  id: string;
  label: string;
  status: CardSlaStatus;
  target: string;
  startedAt: string;
  dueAt: string;
  warningAt: string;
  breachedAt: string | null;
  stoppedAt: string | null;
  breachReason: BreachReason | null;
};

/** How the current stage's work was routed to its accountable role (owner ids; the card resolves names). */
export type CardRouting = {
  mode: 'assignDeal' | 'assignTasks';
  from: string | null;
  to: string;
  pick: 'roundRobin' | 'fewestOpenTasks' | 'lead';
  at: string;
};

/** The deal's trail, newest first: target changes, event clocks, routing. */
export type CardTrailEvent = { at: string; rule: string; detail: string };

/** The card shows at most this many trail events. */
export const MAX_CARD_TRAIL = 20;

export type UnmanagedReason = 'no_playbook' | 'unmanaged_pipeline' | 'not_found';
export type UnmanagedCardView = {
  managed: false;
  dealId: string;
  reason: UnmanagedReason;
  pipeline: Ref | null;
};
export type CardView = ManagedCardView | UnmanagedCardView;

export type CardViewInput = {
  dealId: string;
  playbook: Playbook | null;
  state: DealState | null;
  /** HubSpot's view of the deal right now; null when it could not be read (the checklist then shows nothing met). */
  snapshot: DealSnapshot | null;
  /** Finished visits of this deal (any order, any outcome); only breached ones are listed. */
  history?: readonly HistoryRow[];
  /** The deal's paging trail (any order); passed through, newest MAX_CARD_PAGES kept. */
  pages?: readonly CardPage[];
  now: number;
};

/** §4.2: the card lists at most this many past breaches. */
export const MAX_CARD_BREACHES = 20;

/**
 * Properties written back with every breach. The card reads them with the snapshot because a history row does not
 * carry its breach instant or reason source; for the latest breach, HubSpot has both.
 */
export const CARD_SNAPSHOT_PROPERTIES = [
  P.slaBreachedAt,
  P.breachStage,
  P.breachReason,
  P.breachReasonSource,
] as const;

const iso = (ms: number) => new Date(ms).toISOString();
const isoOrNull = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : iso(ms));

type StageHit = { pipeline: Pipeline; stage: Stage };

function stageIndex(playbook: Playbook): Map<string, StageHit> {
  const out = new Map<string, StageHit>();
  for (const pipeline of playbook.pipelines)
    for (const stage of pipeline.stages) out.set(stage.id, { pipeline, stage });
  return out;
}

// A playbook object is immutable once parsed; compiling a calendar (holidays, weekly hours) is the costly part.
const calendars = new WeakMap<Playbook, Map<string, CompiledCalendar | null>>();

function calendarOf(playbook: Playbook, id: string | undefined): CompiledCalendar | undefined {
  if (id === undefined) return undefined;
  let cache = calendars.get(playbook);
  if (!cache) calendars.set(playbook, (cache = new Map()));
  if (!cache.has(id)) {
    const source = playbook.calendars.find((c) => c.id === id);
    cache.set(id, source ? compileCalendar(source) : null);
  }
  return cache.get(id) ?? undefined;
}

export function buildCardView(input: CardViewInput): CardView {
  const { dealId, playbook, state, snapshot } = input;
  if (!playbook) return { managed: false, dealId, reason: 'no_playbook', pipeline: null };
  const stages = stageIndex(playbook);
  const pipelineRef = (id: string | null | undefined): Ref | null => {
    if (!id) return null;
    // HubSpot's label for a pipeline the playbook does not name is not known here; the id stands in.
    return { id, label: playbook.pipelines.find((p) => p.id === id)?.label ?? id };
  };

  const gone =
    snapshot?.exists === false || state?.closedReason === 'deleted' || state?.closedReason === 'merged';
  if (gone) return { managed: false, dealId, reason: 'not_found', pipeline: null };

  const livePipeline = snapshot?.pipeline ?? null;
  const liveManaged = livePipeline !== null && playbook.pipelines.some((p) => p.id === livePipeline);
  const entry = state?.current ?? null;
  if (!state || !entry) {
    // No visit stored: either the deal sits outside the playbook, or the worker has not seen it yet.
    const unmanaged = (livePipeline !== null && !liveManaged) || state?.closedReason === 'unmanaged_pipeline';
    return {
      managed: false,
      dealId,
      reason: unmanaged ? 'unmanaged_pipeline' : 'not_found',
      pipeline: pipelineRef(livePipeline),
    };
  }

  const hit = stages.get(entry.stage);
  const stage = hit?.stage;
  const role = playbook.roles.find((r) => r.id === entry.ownerRole);
  const exitCriteria = stage?.exitCriteria ?? [];
  const pauseCriteria = stage?.sla?.pauseWhen ?? [];

  return {
    managed: true,
    dealId,
    playbookVersion: state.playbookVersion,
    pipeline: pipelineRef(entry.pipeline)!,
    stage: { id: entry.stage, label: stage?.label ?? entry.stage, enteredAt: iso(entry.enteredAt) },
    ownerRole: { id: entry.ownerRole, name: role?.name ?? entry.ownerRole },
    sla: entry.sla ? slaView(playbook, stage, entry, entry.sla, pauseCriteria, snapshot, input.now) : null,
    exitChecklist: exitCriteria.map((c) => ({
      label: criterionLabel(c),
      met: snapshot !== null && criterionHolds(c, snapshot, entry.tasks, input.now),
    })),
    requiredActions: stage ? actionsView(playbook, stage, entry, snapshot, input.now) : [],
    nextMove: nextMoveView(playbook, state, entry, snapshot, input.now),
    gate: gateView(state, stages),
    breachReason: breachReasonView(state, entry),
    breaches: breachList(state, entry, input.history ?? [], snapshot, stages, playbook),
    ...(input.pages
      ? { pages: [...input.pages].sort((a, b) => a.at.localeCompare(b.at)).slice(-MAX_CARD_PAGES) }
      : {}),
    watchProperties: watchProperties(playbook, entry, stage),
    eventClocks: (state.clocks ?? []).map((run) => eventClockView(playbook, run)),
    routing: entry.routing
      ? {
          mode: entry.routing.mode,
          from: entry.routing.from,
          to: entry.routing.to,
          pick: entry.routing.pick,
          at: iso(entry.routing.at),
        }
      : null,
    trail: (state.trail ?? [])
      .slice(-MAX_CARD_TRAIL)
      .reverse()
      .map((t) => ({ at: iso(t.at), rule: t.rule, detail: t.detail })),
  };
}

function eventClockView(playbook: Playbook, run: EventClockRun): CardEventClock {
  const def = playbook.clocks.find((c) => c.id === run.clockId);
  const clock = run.sla;
  return {
    id: run.clockId,
    label: def?.label ?? run.clockId,
    status: clock.status === 'running' && clock.warned ? 'warning' : clock.status,
    target: formatDuration(clock.targetMs),
    startedAt: iso(run.startedAt),
    dueAt: iso(clock.dueAt),
    warningAt: iso(clock.warningAt),
    breachedAt: isoOrNull(clock.breachedAt),
    stoppedAt: isoOrNull(run.stoppedAt),
    breachReason: run.breachReason,
  };
}

function actionsView(
  playbook: Playbook,
  stage: Stage,
  entry: StageEntry,
  snapshot: DealSnapshot | null,
  now: number,
): CardAction[] {
  // Due times are recomputed from entry exactly as the engine set them; its notes about them are not shown here.
  const notes = { decide: () => undefined };
  return stage.requiredActions.map((t) => {
    const key = entry.tasks.find((x) => x.templateId === t.id)?.key;
    const done = key !== undefined && snapshot?.tasks[key] === 'COMPLETED';
    const dueAt = templateDueAt(notes, playbook, stage, t, entry.enteredAt, entry.sla?.dueAt ?? null);
    return {
      id: t.id,
      subject: t.subject,
      status: done ? 'done' : 'open',
      dueAt: iso(dueAt),
      overdue: !done && dueAt < now,
    };
  });
}

/** A snapshot with nothing set: without HubSpot's view the card shows every criterion as unmet, as the checklist does. */
const blank = (entry: StageEntry, dealId: string): DealSnapshot => ({
  dealId,
  exists: true,
  pipeline: entry.pipeline,
  stage: entry.stage,
  ownerId: null,
  stageEnteredAt: entry.enteredAt,
  properties: {},
  tasks: {},
});

function nextMoveView(
  playbook: Playbook,
  state: DealState,
  entry: StageEntry,
  snapshot: DealSnapshot | null,
  now: number,
): CardNextMove | null {
  const from = findStage(playbook, entry.stage);
  const to = from && nextStep(from);
  if (!from || !to) return null;
  // The very check the engine runs when the deal is moved, so the card never promises a move the gate refuses.
  const missing = gateMissing(state, from, to, snapshot ?? blank(entry, state.dealId), now);
  return { to: { id: to.stage.id, label: to.stage.label }, missing };
}

function targetText(stage: Stage | undefined, clock: SlaClock): string {
  const sla = stage?.sla;
  const m = /^overrides\[(\d+)\]$/.exec(clock.targetRule);
  const written = m
    ? sla?.overrides[Number(m[1])]?.target
    : clock.targetRule === 'default'
      ? sla?.target
      : undefined;
  // After a playbook edit the stored clock may still run on the old target until the worker recomputes it;
  // the card must show the target the clock actually counts against.
  return written !== undefined && parseDuration(written) === clock.targetMs
    ? written
    : formatDuration(clock.targetMs);
}

function slaView(
  playbook: Playbook,
  stage: Stage | undefined,
  entry: StageEntry,
  clock: SlaClock,
  pauseCriteria: readonly Criterion[],
  snapshot: DealSnapshot | null,
  now: number,
): CardSla {
  // Same rule as the engine: business time needs a calendar it can find, plain time otherwise.
  const calendar = clock.basis === 'business' ? calendarOf(playbook, clock.calendar) : undefined;
  const since = clock.runningSince;
  const running =
    since !== null && now > since ? (calendar ? businessTimeBetween(calendar, since, now) : now - since) : 0;
  const elapsedMs = Math.round(clock.consumedMs + running);
  const holding =
    clock.status === 'paused' && snapshot
      ? pauseCriteria.find((c) => criterionHolds(c, snapshot, entry.tasks, now))
      : undefined;
  return {
    status: clock.status === 'running' && clock.warned ? 'warning' : clock.status,
    basis: clock.basis,
    target: targetText(stage, clock),
    targetMs: clock.targetMs,
    elapsedMs,
    remainingMs: clock.targetMs - elapsedMs,
    dueAt: iso(clock.dueAt),
    originalDueAt: iso(clock.originalDueAt),
    warningAt: iso(clock.warningAt),
    breachedAt: isoOrNull(clock.breachedAt),
    pausedAt: clock.status === 'paused' ? isoOrNull(clock.pausedAt) : null,
    pauseReason: holding ? criterionLabel(holding) : null,
    metAt: isoOrNull(clock.metAt),
  };
}

const CLEAR: CardGate = {
  status: 'clear',
  blockedFrom: null,
  blockedTo: null,
  movedTo: null,
  at: null,
  missing: [],
  remedy: null,
};

function gateView(state: DealState, stages: Map<string, StageHit>): CardGate {
  const gate = state.gate;
  if (gate.status === 'clear' || !gate.blockedFrom || !gate.blockedTo) return CLEAR;
  const ref = (id: string): Ref => ({ id, label: stages.get(id)?.stage.label ?? id });
  const target = stages.get(gate.blockedTo);
  const rule = target ? (target.stage.gate ?? target.pipeline.gate) : undefined;
  const movedToId =
    gate.status === 'blocked_reverted'
      ? gate.blockedFrom
      : (gate.pendingStage ?? (rule?.onBlocked === 'remediate' ? rule.stage : null));
  // The alert is about the latest blocked move; once the deal is somewhere else it no longer applies, even if
  // the worker has not caught up with that move yet.
  const here = state.current?.stage;
  if (here !== gate.blockedFrom && here !== movedToId) return CLEAR;
  const blockedTo = ref(gate.blockedTo);
  const movedTo = movedToId ? ref(movedToId) : null;
  const remedy =
    gate.status === 'blocked_remediation' && movedTo
      ? `Collect the missing items in ${movedTo.label}, then move the deal to ${blockedTo.label} again.`
      : `Complete the missing items, then move the deal to ${blockedTo.label} again.`;
  return {
    status: gate.status,
    blockedFrom: ref(gate.blockedFrom),
    blockedTo,
    movedTo,
    at: isoOrNull(gate.at),
    missing: [...gate.missing],
    remedy,
  };
}

const breachedHere = (state: DealState, entry: StageEntry) =>
  entry.sla?.status === 'breached' &&
  entry.sla.breachedAt !== null &&
  (state.lastBreachEntryId ?? entry.entryId) === entry.entryId;

function breachReasonView(state: DealState, entry: StageEntry): ManagedCardView['breachReason'] {
  // A reason preset by a rep before any breach stays hidden: the card offers the control only for a breach.
  if (!breachedHere(state, entry)) return null;
  return {
    value: entry.breachReason ?? 'other',
    source: entry.breachReasonSource ?? 'inferred',
    evidence: [...entry.breachEvidence],
  };
}

function breachList(
  state: DealState,
  entry: StageEntry,
  history: readonly HistoryRow[],
  snapshot: DealSnapshot | null,
  stages: Map<string, StageHit>,
  playbook: Playbook,
): CardBreach[] {
  const ref = (id: string): Ref => ({ id, label: stages.get(id)?.stage.label ?? id });
  // An event clock's breach is listed under the clock's label (its row's stage is `clock.<id>`).
  const rowRef = (row: HistoryRow): Ref =>
    row.clock !== undefined
      ? { id: row.stage, label: playbook.clocks.find((c) => c.id === row.clock)?.label ?? row.clock }
      : ref(row.stage);
  const out: CardBreach[] = [];
  if (breachedHere(state, entry))
    out.push({
      stage: ref(entry.stage),
      breachedAt: iso(entry.sla!.breachedAt!),
      reason: entry.breachReason,
      source: entry.breachReasonSource,
      entryId: entry.entryId,
      evidence: [...entry.breachEvidence],
      corrected:
        entry.breachReasonSource === 'manual' &&
        entry.inferredReason != null &&
        entry.inferredReason !== entry.breachReason,
    });

  // HubSpot holds the instant and source of the latest breach only; it is matched to the visit it fell in.
  const props = snapshot?.properties ?? {};
  // HubSpot returns datetimes as ISO strings; epoch-ms strings are what we write. Read both.
  const rawLast = props[P.slaBreachedAt] ?? '';
  const lastAt = /^\d+$/.test(rawLast) ? Number(rawLast) : Date.parse(rawLast);
  const lastStage = props[P.breachStage] ?? null;
  const lastSource = props[P.breachReasonSource];
  const seen = new Set<string>();
  for (const row of history) {
    if (row.slaOutcome !== 'breached' || row.dealId !== state.dealId) continue;
    const key = `${row.stage}:${row.enteredAt}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const exact =
      row.stage === lastStage && Number.isFinite(lastAt) && lastAt >= row.enteredAt && lastAt <= row.exitedAt;
    const hubspotSource = exact && (lastSource === 'inferred' || lastSource === 'manual') ? lastSource : null;
    out.push({
      stage: rowRef(row),
      // Rows from before breachedAt was recorded: the exit is the latest the breach can have happened.
      breachedAt: iso(row.breachedAt ?? (exact ? lastAt : row.exitedAt)),
      reason: row.breachReason,
      source: row.breachReasonSource ?? hubspotSource,
      entryId: visitKey(row),
      evidence: row.breachEvidence ?? [],
      corrected: wasCorrected(row),
    });
  }
  return out
    .sort((a, b) => (a.breachedAt < b.breachedAt ? 1 : a.breachedAt > b.breachedAt ? -1 : 0))
    .slice(0, MAX_CARD_BREACHES);
}

/**
 * Properties the current stage's exit, pause and override criteria read, then those the next move's entry criteria
 * read, in playbook order: the card reloads when one of them changes.
 */
function watchProperties(playbook: Playbook, entry: StageEntry, stage: Stage | undefined): string[] {
  if (!stage) return [];
  const from = findStage(playbook, entry.stage);
  const next = from && nextStep(from);
  const criteria = [
    ...stage.exitCriteria,
    ...(stage.sla?.pauseWhen ?? []),
    ...(stage.sla?.overrides ?? []).flatMap((o) => o.when),
    ...(next
      ? [...skippedStages(from!, next).flatMap((s) => s.exitCriteria), ...entryCriteriaOf(next.stage)]
      : []),
  ];
  const names = new Set<string>();
  for (const c of criteria) if (c.op !== 'taskDone') names.add(c.property);
  return [...names];
}
