import { BREACH_REASONS, type Playbook } from '../playbook/schema';
import type { HistoryRow } from '../engine/types';
import { wasCorrected } from '../engine/reason-correction';
import { medianAndP90 } from './stats';
import type { Scorecard, ScorecardDimensionRow, ScorecardMetrics } from './types';
import { reportingZone, periodRange, isMonth } from './week';
import { computeFunnel, funnelKeeps } from './funnel';
import { rowsOf, type ClassedRows, type RowBatch } from './classed-rows';

export type ScorecardInput = {
  /** Stage visits; rows whose exit falls outside the week are ignored, so a caller may pass a superset. */
  rows: readonly HistoryRow[];
  playbook: Playbook;
  /** "YYYY-Www", or "YYYY-MM" for the monthly review. */
  week: string;
  /** IANA zone the week is cut in; the playbook's first calendar zone by default. */
  zone?: string;
  /** Weeks with data, newest first (§4.7); the caller knows its storage, this module does not. */
  availableWeeks?: string[];
  /**
   * Visits open now (from the deals' stored state). Those entered before the week's end count as in the stage at
   * its end (at `now` for the current week), with their age; the breached ones count in the breach rate.
   */
  open?: readonly OpenVisit[];
  /** The instant the open visits were read; defaults to the week's end. */
  now?: number;
};

/** A stage visit still open, as the scorecard needs it (no property values). */
export type OpenVisit = {
  /** Needed by cycle times only. */
  dealId?: string;
  pipeline: string;
  stage: string;
  ownerRole: string;
  enteredAt: number;
  /** Whether the visit has an SLA clock, and when it breached (null: not breached). */
  hasSla: boolean;
  breachedAt: number | null;
  breachReason?: Reason | null;
};

type Reason = (typeof BREACH_REASONS)[number];
const REASON_INDEX = new Map<string, number>(BREACH_REASONS.map((r, i) => [r, i]));
const NR = BREACH_REASONS.length;

/**
 * Counters per group in flat number arrays rather than objects per group: the hot loop then touches a handful of
 * dense arrays, which keeps one million rows in the tens of milliseconds.
 */
class Counters {
  volume: number[] = [];
  sla: number[] = [];
  breached: number[] = [];
  forward: number[] = [];
  backward: number[] = [];
  lost: number[] = [];
  corrected: number[] = [];
  reasons: number[] = [];
  /** Ages of the open visits per group, and how many of them breached / run an SLA. */
  ages: number[][] = [];
  openBreached: number[] = [];
  openSla: number[] = [];

  constructor(private readonly kinds: MoveKinds = NO_KINDS) {}

  add(): number {
    const g = this.volume.length;
    this.volume.push(0);
    this.sla.push(0);
    this.breached.push(0);
    this.forward.push(0);
    this.backward.push(0);
    this.lost.push(0);
    this.corrected.push(0);
    this.ages.push([]);
    this.openBreached.push(0);
    this.openSla.push(0);
    for (let r = 0; r < NR; r++) this.reasons.push(0);
    return g;
  }

  /** Counts `row` `times` times (a class of rows counts once for all its rows: ClassedRows). */
  count(g: number, row: HistoryRow, times: number): void {
    this.volume[g]! += times;
    const outcome = row.slaOutcome;
    if (outcome === 'breached') {
      this.sla[g]! += times;
      this.breached[g]! += times;
      const r = row.breachReason === null ? undefined : REASON_INDEX.get(row.breachReason);
      if (r !== undefined) this.reasons[g * NR + r]! += times;
      if ((row.corrections !== undefined || row.breachReasonSource === 'manual') && wasCorrected(row))
        this.corrected[g]! += times;
    } else if (outcome === 'met') this.sla[g]! += times;
    const to = row.toStage;
    // Drop-off into a closed-lost stage is not conversion, whichever way the stage order says it went.
    if (to !== null && this.kinds.lost.has(to)) this.lost[g]! += times;
    else if (row.direction === 'forward') this.forward[g]! += times;
    else if (row.direction === 'backward' && !(to !== null && this.kinds.loops.has(`${row.stage}>${to}`)))
      this.backward[g]! += times;
  }

  /** `asOf`: the instant ages are measured at; `end`: the week's end, before which a breach counts. */
  countOpen(g: number, v: OpenVisit, asOf: number, end: number): void {
    this.ages[g]!.push(Math.max(0, asOf - v.enteredAt));
    if (v.hasSla) {
      this.openSla[g]!++;
      if (v.breachedAt !== null && v.breachedAt < end) {
        this.openBreached[g]!++;
        const r = v.breachReason ? REASON_INDEX.get(v.breachReason) : undefined;
        if (r !== undefined) this.reasons[g * NR + r]!++;
      }
    }
  }

  /** `values` are the group's businessMs; they are reordered. */
  metrics(g: number, values: Float64Array): ScorecardMetrics {
    const volume = this.volume[g]!;
    const sla = this.sla[g]! + this.openSla[g]!;
    const breached = this.breached[g]! + this.openBreached[g]!;
    const ages = Float64Array.from(this.ages[g]!);
    const age = medianAndP90(ages);
    const reasons: { reason: Reason; count: number }[] = [];
    for (let r = 0; r < NR; r++) {
      const count = this.reasons[g * NR + r]!;
      if (count > 0) reasons.push({ reason: BREACH_REASONS[r]!, count });
    }
    const { median, p90 } = medianAndP90(values);
    reasons.sort((a, b) => b.count - a.count || (a.reason < b.reason ? -1 : a.reason > b.reason ? 1 : 0));
    return {
      volume,
      medianTimeInStageMs: median,
      p90TimeInStageMs: p90,
      slaVisits: sla,
      breached,
      breachRate: sla === 0 ? null : breached / sla,
      conversionRate: volume === 0 ? null : this.forward[g]! / volume,
      backflowRate: volume === 0 ? null : this.backward[g]! / volume,
      droppedOff: this.lost[g]!,
      dropOffRate: volume === 0 ? null : this.lost[g]! / volume,
      inStage: ages.length,
      medianAgeMs: age.median,
      maxAgeMs: ages.length === 0 ? null : ages.reduce((a, b) => Math.max(a, b), 0),
      openBreached: this.openBreached[g]!,
      reasonCorrections: this.corrected[g]!,
      topBreachReasons: reasons.slice(0, 3),
    };
  }
}

/** Values of every group laid out contiguously (a counting sort by group), one view per group. */
function groupSlices(groupOf: Int32Array, values: Float64Array, sizes: number[]): Float64Array[] {
  const offsets = new Int32Array(sizes.length + 1);
  for (let g = 0; g < sizes.length; g++) offsets[g + 1] = offsets[g]! + sizes[g]!;
  const cursor = offsets.slice(0, sizes.length);
  const out = new Float64Array(offsets[sizes.length]!);
  for (let i = 0; i < groupOf.length; i++) {
    const g = groupOf[i]!;
    if (g >= 0) out[cursor[g]!++] = values[i]!;
  }
  return sizes.map((_, g) => out.subarray(offsets[g]!, offsets[g + 1]!));
}

/** Closed-lost stage ids and declared loops ("from>to") of the playbook. */
type MoveKinds = { lost: Set<string>; loops: Set<string> };
const NO_KINDS: MoveKinds = { lost: new Set(), loops: new Set() };

function moveKinds(playbook: Playbook): MoveKinds {
  const lost = new Set<string>();
  const loops = new Set<string>();
  for (const pl of playbook.pipelines) {
    for (const st of pl.stages) if (st.closedLost) lost.add(st.id);
    for (const lp of pl.loops ?? []) loops.add(`${lp.from}>${lp.to}`);
  }
  return { lost, loops };
}

type StageMeta = {
  pipeline: { id: string; label: string };
  stage: { id: string; label: string };
  known: boolean;
  /** The playbook's owner role of the stage and its group, to skip the role lookup for most rows. */
  roleId: string | null;
  roleGroup: number;
};

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The groups a report lists (those with visits or open deals), with their group index: the playbook's own in its
 * order, then the ones it does not know, by `byId`.
 */
function reportOrder<M extends { known: boolean }>(
  metas: M[],
  groups: { volume: number[]; ages: number[][] },
  byId: (a: M, b: M) => number,
): { meta: M; g: number }[] {
  return metas
    .map((meta, g) => ({ meta, g }))
    .filter(({ g }) => groups.volume[g]! > 0 || groups.ages[g]!.length > 0)
    .sort((a, b) =>
      a.meta.known && b.meta.known
        ? a.g - b.g
        : a.meta.known !== b.meta.known
          ? a.meta.known
            ? -1
            : 1
          : byId(a.meta, b.meta),
    );
}

/**
 * The weekly scorecard of §4.7. Cohort: visits with `exitedAt` in [local Monday 00:00, next local Monday 00:00).
 * Stages follow playbook order; visits to stages or roles the playbook no longer has (an edited playbook) still
 * count, listed after the known ones under their ids, so totals never silently lose visits.
 */
export function computeScorecard(input: ScorecardInput): Scorecard {
  const fold = startScorecard(input);
  fold.add(input.rows);
  return fold.result(input.open);
}

/**
 * computeScorecard fed rows a batch at a time: `add` folds each batch into counters and per-group times, so a
 * reader can hand over a chunk's rows and drop them (a million row objects kept until the end cost more in garbage
 * collection than decoding them), and `result` gives what computeScorecard gives for all the batches' rows in the
 * same order. The funnel, which needs its rows whole, keeps only the few it reads (funnelKeeps).
 */
export type ScorecardFold = {
  /** Rows, as objects or as columns (ClassedRows, read during the call only). */
  add(rows: RowBatch): void;
  /** The scorecard of every row added so far; `open`: the visits open now (see ScorecardInput.open). */
  result(open?: readonly OpenVisit[]): Scorecard;
};

/** Growable parallel columns, one entry per row in the period: its stage, role or clock group and businessMs. */
class Columns {
  length = 0;
  stageOf = new Int32Array(1024);
  roleOf = new Int32Array(1024);
  clockOf = new Int32Array(1024);
  values = new Float64Array(1024);

  push(stage: number, role: number, clock: number, value: number): void {
    if (this.length === this.values.length) this.grow();
    const i = this.length++;
    this.stageOf[i] = stage;
    this.roleOf[i] = role;
    this.clockOf[i] = clock;
    this.values[i] = value;
  }

  private grow(): void {
    const size = this.values.length * 2;
    const more = <T extends Int32Array | Float64Array>(a: T, fresh: T): T => (fresh.set(a), fresh);
    this.stageOf = more(this.stageOf, new Int32Array(size));
    this.roleOf = more(this.roleOf, new Int32Array(size));
    this.clockOf = more(this.clockOf, new Int32Array(size));
    this.values = more(this.values, new Float64Array(size));
  }
}

/** One scorecard dimension's groups, filled row by row in order of first sight of each value. */
type DimensionFold = {
  property: string;
  label: string;
  counters: Counters;
  index: Map<string, number>;
  times: number[][];
};

export function startScorecard(input: Omit<ScorecardInput, 'rows' | 'open'>): ScorecardFold {
  const { playbook } = input;
  const range = periodRange(input.week, input.zone ?? reportingZone(playbook));

  const kinds = moveKinds(playbook);
  const stages = new Counters(kinds);
  const stageMeta: StageMeta[] = [];
  const roles = new Counters(kinds);
  const roleIndex = new Map<string, number>();
  const roleMeta: { role: { id: string; name: string }; known: boolean }[] = [];
  for (const r of playbook.roles) {
    roleIndex.set(r.id, roles.add());
    roleMeta.push({ role: { id: r.id, name: r.name }, known: true });
  }
  const roleGroup = (id: string): number => {
    let rg = roleIndex.get(id);
    if (rg === undefined) {
      rg = roles.add();
      roleIndex.set(id, rg);
      roleMeta.push({ role: { id, name: id }, known: false });
    }
    return rg;
  };

  // HubSpot stage ids are unique across pipelines (the playbook schema enforces it), so one lookup by stage id
  // finds the group and a string compare confirms the pipeline; the two-level map is only for the rest.
  const stageById = new Map<string, number>();
  const stageIndex = new Map<string, Map<string, number>>();
  const pipelineLabel = new Map<string, string>();
  const addStage = (
    pipeline: { id: string; label: string },
    stage: { id: string; label: string },
    role: string | null,
    known: boolean,
  ) => {
    const g = stages.add();
    let m = stageIndex.get(pipeline.id);
    if (!m) stageIndex.set(pipeline.id, (m = new Map()));
    m.set(stage.id, g);
    if (!stageById.has(stage.id)) stageById.set(stage.id, g);
    stageMeta.push({ pipeline, stage, known, roleId: role, roleGroup: role === null ? -1 : roleGroup(role) });
    return g;
  };
  for (const pl of playbook.pipelines) {
    pipelineLabel.set(pl.id, pl.label);
    for (const st of pl.stages)
      addStage({ id: pl.id, label: pl.label }, { id: st.id, label: st.label }, st.ownerRole, true);
  }
  const stageGroup = (row: Pick<HistoryRow, 'pipeline' | 'stage'>): number => {
    const g = stageById.get(row.stage);
    if (g !== undefined && stageMeta[g]!.pipeline.id === row.pipeline) return g;
    return (
      stageIndex.get(row.pipeline)?.get(row.stage) ??
      addStage(
        { id: row.pipeline, label: pipelineLabel.get(row.pipeline) ?? row.pipeline },
        { id: row.stage, label: row.stage },
        null,
        false,
      )
    );
  };
  // A visit's role group: almost always its stage's role, so a string compare instead of a map lookup.
  const roleGroupIn = (sg: number, ownerRole: string): number => {
    const meta = stageMeta[sg]!;
    return meta.roleId === ownerRole ? meta.roleGroup : roleGroup(ownerRole);
  };
  const totals = new Counters(kinds);
  totals.add();
  // Event clock runs (rows with `clock`) are counted per clock, never as stage visits or in the totals.
  const clocks = new Counters();
  const clockIndex = new Map<string, number>();
  const clockIds: string[] = [];
  const clockGroup = (id: string): number => {
    let g = clockIndex.get(id);
    if (g === undefined) {
      g = clocks.add();
      clockIndex.set(id, g);
      clockIds.push(id);
    }
    return g;
  };

  const dims: DimensionFold[] = (playbook.scorecard?.dimensions ?? []).map((d) => ({
    property: d.property,
    label: d.label,
    counters: new Counters(kinds),
    index: new Map(),
    times: [],
  }));
  const keepForFunnel = funnelKeeps(playbook, range.start, range.end);
  const funnelRows: HistoryRow[] = [];

  const columns = new Columns();
  const { start, end } = range;

  function add(batch: RowBatch): void {
    if (!Array.isArray(batch)) return addClassed(batch as ClassedRows);
    const rows = batch as readonly HistoryRow[];
    const n = rows.length;
    for (let i = 0; i < n; i++) {
      const row = rows[i]!;
      if (keepForFunnel?.(row)) funnelRows.push(row);
      const exited = row.exitedAt;
      // Rows outside the period count nowhere and need no column: only their order among the kept ones matters.
      if (!(exited >= start && exited < end)) continue;
      if (row.clock !== undefined) {
        const cg = clockGroup(row.clock);
        clocks.count(cg, row, 1);
        columns.push(-1, -1, cg, row.businessMs);
        continue;
      }
      const sg = stageGroup(row);
      const rg = roleGroupIn(sg, row.ownerRole);
      stages.count(sg, row, 1);
      roles.count(rg, row, 1);
      totals.count(0, row, 1);
      columns.push(sg, rg, -1, row.businessMs);
      for (const d of dims) {
        const g = dimensionGroup(d, row);
        d.counters.count(g, row, 1);
        d.times[g]!.push(row.businessMs);
      }
    }
  }

  function dimensionGroup(d: DimensionFold, row: HistoryRow): number {
    const value = row.dims?.[d.property] ?? NONE;
    let g = d.index.get(value);
    if (g === undefined) {
      d.index.set(value, (g = d.counters.add()));
      d.times.push([]);
    }
    return g;
  }

  /**
   * Rows as columns: a class's groups found at its first row in the period (in row order, where the row path finds
   * them), its counts added once for all its rows, and per row only its time in stage pushed: no object per row.
   * A playbook with a funnel keeps some rows whole, so it is fed the rows themselves.
   */
  function addClassed(batch: ClassedRows): void {
    if (keepForFunnel) return add(rowsOf(batch));
    const { classes, classOf, exitedAt, businessMs, size, exits } = batch;
    const from = exits ? Math.max(start, exits.from) : start;
    const to = exits ? Math.min(end, exits.to) : end;
    const k = classes.length;
    const nd = dims.length;
    // Per class: its rows in the period, its stage, role or clock group, its group per dimension.
    const times = new Float64Array(k);
    const stageOf = new Int32Array(k);
    const roleOf = new Int32Array(k);
    const clockOf = new Int32Array(k);
    const dimOf = new Int32Array(k * nd);
    for (let i = 0; i < size; i++) {
      const exited = exitedAt[i]!;
      if (!(exited >= from && exited < to)) continue;
      const c = classOf[i]!;
      if (times[c] === 0) {
        const row = classes[c]!;
        if (row.clock !== undefined) {
          stageOf[c] = -1;
          clockOf[c] = clockGroup(row.clock);
        } else {
          const sg = stageGroup(row);
          stageOf[c] = sg;
          roleOf[c] = roleGroupIn(sg, row.ownerRole);
          for (let j = 0; j < nd; j++) dimOf[c * nd + j] = dimensionGroup(dims[j]!, row);
        }
      }
      times[c]!++;
      const value = businessMs[i]!;
      const sg = stageOf[c]!;
      if (sg < 0) {
        columns.push(-1, -1, clockOf[c]!, value);
        continue;
      }
      columns.push(sg, roleOf[c]!, -1, value);
      for (let j = 0; j < nd; j++) dims[j]!.times[dimOf[c * nd + j]!]!.push(value);
    }
    for (let c = 0; c < k; c++) {
      const n = times[c]!;
      if (n === 0) continue;
      const row = classes[c]!;
      if (stageOf[c]! < 0) {
        clocks.count(clockOf[c]!, row, n);
        continue;
      }
      stages.count(stageOf[c]!, row, n);
      roles.count(roleOf[c]!, row, n);
      totals.count(0, row, n);
      for (let j = 0; j < nd; j++) dims[j]!.counters.count(dimOf[c * nd + j]!, row, n);
    }
  }

  function result(open: readonly OpenVisit[] = []): Scorecard {
    // Open visits: in the stage at the week's end (or now, for the current week) if entered before it.
    // A visit entered after the week is not part of it; ages are clamped at 0 for a reader whose clock runs behind
    // the service's (the sandbox demo runs its own fast clock).
    const asOf = Math.min(range.end, input.now ?? range.end);
    for (const v of open) {
      if (v.enteredAt >= range.end) continue;
      const sg = stageGroup(v);
      const rg = roleGroupIn(sg, v.ownerRole);
      stages.countOpen(sg, v, asOf, range.end);
      roles.countOpen(rg, v, asOf, range.end);
      totals.countOpen(0, v, asOf, range.end);
    }

    const n = columns.length;
    const stageOf = columns.stageOf.subarray(0, n);
    const values = columns.values.subarray(0, n);
    const stageValues = groupSlices(stageOf, values, stages.volume);
    const roleValues = groupSlices(columns.roleOf.subarray(0, n), values, roles.volume);
    // Every stage visit's value (clock runs have no stage): a plain loop, where mapping the column through a
    // callback first cost ~0.1 s over a million rows.
    const allValues = new Float64Array(totals.volume[0]!);
    for (let i = 0, k = 0; i < n; i++) if (stageOf[i]! >= 0) allValues[k++] = values[i]!;
    const clockValues = groupSlices(columns.clockOf.subarray(0, n), values, clocks.volume);

    const stageOrder = reportOrder(
      stageMeta,
      stages,
      (x, y) => byText(x.pipeline.id, y.pipeline.id) || byText(x.stage.id, y.stage.id),
    );
    const roleOrder = reportOrder(roleMeta, roles, (x, y) => byText(x.role.id, y.role.id));

    const byDimension = dims.length > 0 ? dimensionRows(dims) : undefined;
    const funnel = computeFunnel(playbook, funnelRows, range.start, range.end, input.now ?? range.end);
    return {
      week: range.week,
      ...(isMonth(range.week) ? { period: 'month' as const } : {}),
      weekStart: range.weekStart,
      weekEnd: range.weekEnd,
      timeZone: range.timeZone,
      availableWeeks: input.availableWeeks ?? [],
      byStage: stageOrder.map(({ meta, g }) => ({
        pipeline: meta.pipeline,
        stage: meta.stage,
        ...stages.metrics(g, stageValues[g]!),
      })),
      byRole: roleOrder.map(({ meta, g }) => ({ role: meta.role, ...roles.metrics(g, roleValues[g]!) })),
      ...(byDimension ? { byDimension } : {}),
      ...(funnel ? { funnel } : {}),
      totals: totals.metrics(0, allValues),
      ...(clockIds.length > 0
        ? {
            byClock: playbookClockOrder(playbook, clockIds).map(({ id, g, label }) => ({
              clock: { id, label },
              // A run is not a visit: it converts or flows back nowhere.
              ...clocks.metrics(g, clockValues[g]!),
              conversionRate: null,
              backflowRate: null,
            })),
          }
        : {}),
    };
  }

  return { add, result };
}

/** Clocks in playbook order, then clocks the playbook no longer has, by id. */
function playbookClockOrder(playbook: Playbook, seen: string[]): { id: string; g: number; label: string }[] {
  const label = new Map(playbook.clocks.map((c, i) => [c.id, { label: c.label, order: i }]));
  return seen
    .map((id, g) => ({ id, g, label: label.get(id)?.label ?? id, order: label.get(id)?.order ?? Infinity }))
    .sort((a, b) => a.order - b.order || byText(a.id, b.id));
}

const NONE = '(none)';

/** The dimensions' groups, values sorted with "(none)" last. */
function dimensionRows(dims: readonly DimensionFold[]): ScorecardDimensionRow[] {
  const out: ScorecardDimensionRow[] = [];
  for (const d of dims) {
    const sorted = [...d.index].sort(([a], [b]) => (a === NONE ? 1 : b === NONE ? -1 : byText(a, b)));
    for (const [value, g] of sorted)
      out.push({
        dimension: { property: d.property, label: d.label },
        value,
        ...d.counters.metrics(g, Float64Array.from(d.times[g]!)),
      });
  }
  return out;
}

/** The open visit of a deal's stored state, or null when the deal has none (closed, never seen). */
export function openVisitOf(state: {
  dealId: string;
  current: {
    pipeline: string;
    stage: string;
    ownerRole: string;
    enteredAt: number;
    sla: { breachedAt: number | null } | null;
    breachReason: Reason | null;
  } | null;
  closedReason: string | null;
}): OpenVisit | null {
  const c = state.current;
  if (!c || state.closedReason) return null;
  return {
    dealId: state.dealId,
    pipeline: c.pipeline,
    stage: c.stage,
    ownerRole: c.ownerRole,
    enteredAt: c.enteredAt,
    hasSla: c.sla !== null,
    breachedAt: c.sla?.breachedAt ?? null,
    breachReason: c.breachReason,
  };
}
